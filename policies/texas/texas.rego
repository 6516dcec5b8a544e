# Project Texas style policy.
#
# Protected data of US users stays in the approved US regions. Excepted and
# public data may go to any region the route offers. A person outside the
# subject's jurisdiction reaches protected data only with a verified,
# unexpired access approval, and then only pseudonymised.
#
# For protected data the policy returns the whole approved set for the
# subject's jurisdiction (data.approved_regions); the gateway's router
# intersects it with the route's pools and their health, so the policy never
# needs to know which pools are up. A data class not listed as open is
# treated as protected: unknown means protected.
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
} else := deny("access from outside the data's jurisdiction needs a verified, unexpired approval") if {
	from_abroad
	not approval_valid
} else := allow(home_regions, sprintf("access from abroad under approval %s, pseudonymised", [input.requester.approval.id]), pseudonymised) if {
	from_abroad
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

# An employee outside the subject's jurisdiction (or with no known location).
from_abroad if {
	input.requester.kind == "employee"
	not input.requester.location == jurisdiction
}

approval_valid if {
	input.requester.approval.verified == true
	time.parse_rfc3339_ns(input.requester.approval.expires) > time.parse_rfc3339_ns(input.time)
}

protected_headers := {"response_headers": {"x-data-class": "protected"}}

pseudonymised := {
	"pseudonymize": data.personal_fields.pseudonymize,
	"redact": data.personal_fields.redact,
	"response_headers": {"x-data-class": "protected", "x-data-approval": input.requester.approval.id},
}

allow(regions, reason, obligations) := {"allow": true, "regions": regions, "reason": reason, "obligations": obligations}

deny(reason) := {"allow": false, "regions": [], "reason": reason}
