package jurisgate_test

import data.jurisgate
import rego.v1

# A verified US user writing their own protected data.
us_user := {
	"request": {"id": "t-1", "method": "POST", "host": "api.example.com", "path": "/v1/messages", "query": {}, "headers": {}},
	"subject": {"jurisdiction": "US", "source": "jwt", "verified": true},
	"requester": {"kind": "user", "id": "u-1", "location": "US", "source": "jwt", "verified": true},
	"resource": {"route": "messages", "service": "messages", "data_class": "protected"},
	"destinations": [
		{"pool": "messages-us-east", "region": "us-east", "healthy": true},
		{"pool": "messages-eu-west", "region": "eu-west", "healthy": false},
	],
	"time": "2026-11-27T18:00:00Z",
}

# An employee in Ireland reading US protected data.
employee_abroad := object.union(us_user, {
	"request": {"method": "GET"},
	"requester": {"kind": "employee", "id": "e-7", "org": "ops", "location": "IE", "source": "mtls"},
})

approval := {"id": "APR-17", "scope": "support", "expires": "2026-11-28T00:00:00Z", "verified": true}

decide(patch) := d if {
	d := jurisgate.decision with input as object.union(us_user, patch)
}

test_us_protected_data_stays_in_us_regions if {
	d := decide({})
	d.allow
	d.regions == ["us-east", "us-west"]
	d.obligations.response_headers["x-data-class"] == "protected"
}

test_excepted_and_public_data_go_to_any_route_region if {
	every class in ["excepted", "public"] {
		d := decide({"resource": {"data_class": class}})
		d.allow
		d.regions == {"us-east", "eu-west"}
	}
}

test_open_data_with_no_destination_is_denied if {
	d := jurisgate.decision with input as object.union(us_user, {"resource": {"data_class": "public"}, "destinations": []})
	not d.allow
	d.reason == "the route offers no destination region"
}

test_unknown_data_class_counts_as_protected if {
	d := decide({"resource": {"data_class": "telemetry"}, "subject": {"verified": false}})
	not d.allow
}

test_unverified_subject_is_denied if {
	d := decide({"subject": {"jurisdiction": "US", "source": "geoip", "verified": false}})
	not d.allow
	d.reason == "protected data needs a verified subject jurisdiction"
}

test_unknown_subject_is_denied if {
	d := decide({"subject": {"jurisdiction": "unknown", "source": "none", "verified": false}})
	not d.allow
}

test_unverified_requester_is_denied if {
	d := decide({"requester": {"verified": false}})
	not d.allow
	d.reason == "protected data needs a verified requester"
}

test_eu_protected_data_goes_to_eu_west if {
	d := decide({"subject": {"jurisdiction": "EU"}, "requester": {"location": "EU"}})
	d.allow
	d.regions == ["eu-west"]
}

test_unlisted_jurisdiction_is_denied if {
	d := decide({"subject": {"jurisdiction": "JP"}, "requester": {"location": "JP"}})
	not d.allow
	d.reason == "no approved regions for protected JP data"
}

test_employee_abroad_without_approval_is_denied if {
	d := jurisgate.decision with input as employee_abroad
	not d.allow
	contains(d.reason, "approval")
}

test_employee_abroad_with_expired_approval_is_denied if {
	expired := object.union(approval, {"expires": "2026-11-27T17:59:59Z"})
	d := jurisgate.decision with input as object.union(employee_abroad, {"requester": {"approval": expired}})
	not d.allow
}

test_employee_abroad_with_unverified_approval_is_denied if {
	unverified := object.union(approval, {"verified": false})
	d := jurisgate.decision with input as object.union(employee_abroad, {"requester": {"approval": unverified}})
	not d.allow
}

test_employee_abroad_with_approval_gets_pseudonymised_us_data if {
	d := jurisgate.decision with input as object.union(employee_abroad, {"requester": {"approval": approval}})
	d.allow
	d.regions == ["us-east", "us-west"]
	"/user/email" in d.obligations.pseudonymize
	"/user/phone" in d.obligations.redact
	d.obligations.response_headers["x-data-approval"] == "APR-17"
}

test_employee_with_no_location_counts_as_abroad if {
	no_location := json.remove(employee_abroad, ["requester/location"])
	d := jurisgate.decision with input as no_location
	not d.allow
}

test_us_employee_needs_no_approval if {
	d := decide({"requester": {"kind": "employee", "location": "US"}})
	d.allow
	not d.obligations.pseudonymize
}
