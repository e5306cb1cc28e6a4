//! Production resolver on hickory-resolver (feature `hickory`, default on).
//!
//! (Filled in by the Foundation issue's DNS work.)
