//! zhifa's rules and types. Pure: no I/O, no SQL, no HTTP.
//!
//! Values are parsed once, at the edge, into types that carry their invariants
//! (`CreditCode`, `Username`, `Slug`, ...). Rules take and return those types.

pub mod access;
pub mod account;
pub mod audit;
pub mod calendar;
pub mod case;
pub mod catalog;
pub mod credential;
pub mod credit_code;
pub mod evidence;
pub mod id_number;
pub mod lists;
pub mod org;
pub mod procedure;
pub mod token;
pub mod validation;

pub use access::{Capability, Denied, Principal, Role, RoleRefusal, Scope, check_role_set};
pub use account::{Password, PasswordPolicyError, Username};
pub use credit_code::{CreditCode, CreditCodeError};
pub use org::{
    AgencyKind, Crypto, LeadershipRank, NewAgency, NewDepartment, NewLeadershipMember, NewPerson,
    Phone, Slug,
};
pub use validation::FieldErrors;
