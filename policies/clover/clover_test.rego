package jurisgate_test

import data.jurisgate
import rego.v1

# A verified EU user writing their own protected data.
eu_user := {
	"request": {"id": "t-1", "method": "POST", "host": "api.example.com", "path": "/v1/messages", "query": {}, "headers": {}},
	"subject": {"jurisdiction": "EU", "source": "jwt", "verified": true},
	"requester": {"kind": "user", "id": "u-1", "location": "FR", "source": "jwt", "verified": true},
	"resource": {"route": "messages", "service": "messages", "data_class": "protected"},
	"destinations": [
		{"pool": "messages-eu-west", "region": "eu-west", "healthy": true},
		{"pool": "messages-us-east", "region": "us-east", "healthy": true},
	],
	"time": "2026-11-27T18:00:00Z",
}

# A support engineer in the US reading EU protected data.
us_engineer := {"request": {"method": "GET"}, "requester": {"kind": "employee", "id": "e-9", "location": "US", "source": "mtls"}}

decide(patch) := d if {
	d := jurisgate.decision with input as object.union(eu_user, patch)
}

test_eu_protected_data_stays_in_eu_regions if {
	d := decide({})
	d.allow
	d.regions == ["eu-west", "eu-central"]
	d.obligations.response_headers["x-data-class"] == "protected"
}

test_excepted_and_public_data_go_to_any_route_region if {
	every class in ["excepted", "public"] {
		d := decide({"resource": {"data_class": class}})
		d.allow
		d.regions == {"eu-west", "us-east"}
	}
}

test_open_data_with_no_destination_is_denied if {
	d := jurisgate.decision with input as object.union(eu_user, {"resource": {"data_class": "excepted"}, "destinations": []})
	not d.allow
}

test_unverified_subject_is_denied if {
	d := decide({"subject": {"source": "geoip", "verified": false}})
	not d.allow
	d.reason == "protected data needs a verified subject jurisdiction"
}

test_unverified_requester_is_denied if {
	d := decide({"requester": {"verified": false}})
	not d.allow
	d.reason == "protected data needs a verified requester"
}

test_us_protected_data_goes_to_us_regions if {
	d := decide({"subject": {"jurisdiction": "US"}, "requester": {"location": "US"}})
	d.allow
	d.regions == ["us-east", "us-west"]
}

test_unlisted_jurisdiction_is_denied if {
	d := decide({"subject": {"jurisdiction": "BR"}})
	not d.allow
	d.reason == "no approved regions for protected BR data"
}

test_read_from_outside_the_eu_is_pseudonymised_and_served_from_the_eu if {
	d := decide(us_engineer)
	d.allow
	d.regions == ["eu-west", "eu-central"]
	"/user/email" in d.obligations.pseudonymize
	d.obligations.response_headers["x-data-transfer"] == "pseudonymised"
}

test_service_outside_the_eu_counts_as_a_transfer if {
	d := decide({"request": {"method": "HEAD"}, "requester": {"kind": "service", "location": "SG"}})
	d.allow
	d.obligations.pseudonymize
}

test_write_from_outside_the_eu_is_denied if {
	d := decide(object.union(us_engineer, {"request": {"method": "DELETE"}}))
	not d.allow
	d.reason == "EU protected data may not be changed from outside the EU"
}

test_staff_inside_the_eu_read_in_the_clear if {
	d := decide(object.union(us_engineer, {"requester": {"location": "DE"}}))
	d.allow
	not d.obligations.pseudonymize
}

test_eu_user_travelling_abroad_is_not_a_transfer if {
	d := decide({"request": {"method": "GET"}, "requester": {"location": "US"}})
	d.allow
	not d.obligations.pseudonymize
}

test_staff_with_no_location_count_as_outside_the_eu if {
	no_location := json.remove(object.union(eu_user, us_engineer), ["requester/location"])
	d := jurisgate.decision with input as no_location
	d.obligations.pseudonymize
}
