//! How late after its deadline a runaway guest's call returns, per engine:
//! an endless `loop br 0` under `Limits::default()` with a deadline of
//! 200 ms, 20 calls on one instance of each engine built the default way.
//!
//! ```sh
//! cargo run -p refill-bench --release --example deadline_slack
//! ```

use std::time::{Duration, Instant};

use refill::{AnyEngine, Engine, EngineKind, ErrorKind, Instance, InstanceConfig, Limits, Module};

const SPIN: &str = r#"(module (memory (export "memory") 1)
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
  (func (export "spin") (result i64) (loop $l (br $l)) (i64.const 0)))"#;

fn main() -> refill::Result<()> {
    let wasm = wat::parse_str(SPIN).expect("valid WAT");
    let deadline = Duration::from_millis(200);
    let config = InstanceConfig::new().with_limits(Limits::default().with_deadline(Some(deadline)));
    println!("slack past a {deadline:?} deadline, 20 calls each (min / median / max):");
    for kind in EngineKind::compiled() {
        let mut instance = AnyEngine::new(kind)?.compile(&wasm)?.instantiate(&config)?;
        let mut slack: Vec<Duration> = (0..20)
            .map(|_| {
                let started = Instant::now();
                let error = instance
                    .call("spin", &[])
                    .expect_err("a loop never returns");
                assert_eq!(error.kind(), ErrorKind::DeadlineExceeded);
                started.elapsed().saturating_sub(deadline)
            })
            .collect();
        slack.sort();
        println!(
            "  {kind:<9} {:>9.2?} / {:>9.2?} / {:>9.2?}",
            slack[0],
            slack[slack.len() / 2],
            slack[slack.len() - 1]
        );
    }
    Ok(())
}
