//! Request normalisation (path, headers): the first step of the request path.
