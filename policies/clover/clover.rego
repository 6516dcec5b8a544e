# Project Clover style policy.
#
# Protected data of EU users stays in EU regions (eu-west, eu-central).
# Staff or services outside the EU may read EU protected data only
# pseudonymised, and the data is still served from the EU regions only: it is
# the pseudonymised response that leaves, never the store. They may not write
# it. Users acting on their own data are never treated as a transfer.
# Excepted and public data may go to any region the route offers.
#
# For protected data the policy returns the whole approved set for the
# subject's jurisdiction (data.approved_regions); the gateway's router
# intersects it with the route's pools and their health. A data class not
# listed as open is treated as protected.
package jurisgate

import rego.v1

default decision := {"allow": false, "regions": [], "reason": "no rule allowed this request"}

decision := allow(route_regions, sprintf("%s data may go to any region", [class]), {}) if {
	open_data
	count(route_regions) > 0
} else := deny("the route offers no destination region") if {
	open_data
} else := deny("protected data needs a verified subject jurisdiction") if {
	not verified_subject
} else := deny("protected data needs a verified requester") if {
	not input.requester.verified == true
} else := deny(sprintf("no approved regions for protected %s data", [jurisdiction])) if {
	not home_regions
} else := deny("EU protected data may not be changed from outside the EU") if {
	transfer_out_of_eu
	not read_only
} else := allow(home_regions, "EU protected data leaves the EU only pseudonymised", pseudonymised) if {
	transfer_out_of_eu
} else := allow(home_regions, sprintf("protected %s data stays in approved %s regions", [jurisdiction, jurisdiction]), protected_headers)

class := input.resource.data_class

jurisdiction := input.subject.jurisdiction

verified_subject if {
	input.subject.verified == true
	is_string(jurisdiction)
}

open_data if class in data.open_classes

route_regions := {d.region | some d in input.destinations}

home_regions := data.approved_regions[jurisdiction]

# Staff or a service outside the EU (or with no known location) asking for
# an EU user's data.
transfer_out_of_eu if {
	jurisdiction == "EU"
	input.requester.kind in {"employee", "service"}
	not requester_in_eu
}

# A helper rule, not `not x in xs` inline: OPA and regorus disagree on that
# form when the location is missing (scripts/opa_parity.py found it).
requester_in_eu if input.requester.location in data.eu_locations

read_only if input.request.method in {"GET", "HEAD"}

protected_headers := {"response_headers": {"x-data-class": "protected"}}

pseudonymised := {
	"pseudonymize": data.personal_fields.pseudonymize,
	"redact": data.personal_fields.redact,
	"response_headers": {"x-data-class": "protected", "x-data-transfer": "pseudonymised"},
}

allow(regions, reason, obligations) := {"allow": true, "regions": regions, "reason": reason, "obligations": obligations}

deny(reason) := {"allow": false, "regions": [], "reason": reason}
