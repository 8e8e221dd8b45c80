#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod chart;
pub mod fan_in;
pub mod minimal;
pub mod native;
pub mod per_call;
pub mod round_trip;
pub mod rss;
pub mod workload;

pub use workload::{FileRun, Measurement, Workload, median, payload, rounds, run};
