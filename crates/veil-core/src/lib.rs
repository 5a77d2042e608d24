//! veil-core: the enforcement functions every engine runs.
//!
//! Pure and deterministic: no I/O, no clock, no global state. Every function has a
//! scalar form and a batch form over a slice that does its set-up (key derivation,
//! HMAC states, AES key schedule, compiled regex) once per batch. NULLs are
//! `None` and pass through batch forms unchanged.
#![forbid(unsafe_code)]

pub mod classify;
mod error;
mod hex;
mod key;
pub mod keyring;
mod mac;
pub mod mask;
pub mod rows;

pub use error::{Error, Result};
pub use key::{derivation_info, Key, Purpose, Scope, ScopeKind, HKDF_SALT};

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
