//! keepalived.conf front end: lexing, preprocessing, parsing, typed model.
