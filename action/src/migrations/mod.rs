//! Database migrations, from the CLI's side: the lint that holds an expand
//! migration to the rule every blue-green guide states (the old version
//! keeps running against the new schema, so add, never remove or reshape).

pub mod lint;
