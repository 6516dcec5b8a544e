//! Response obligations: pseudonymise and redact JSON fields, set headers.
