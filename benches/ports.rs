//! Port allocation cost: taking a port's cross-instance lock and checking
//! that a server could bind it, per port, for a preferred port and for
//! `port = "auto"`. Each allocation is held (as a running service holds
//! its port) until the round ends, so auto scans really skip taken ports.
//! Goal (issue 3): report the figure; it bounds how long a big stack waits
//! before its first spawn.

// A benchmark fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use bringup::config::{OnConflict, PortSpec};
use bringup::ports::{Allocation, Allocator, Identity};

const ROUNDS: usize = 20;
const PER_ROUND: usize = 100;

fn spec(preferred: Option<u16>) -> PortSpec {
    PortSpec {
        preferred,
        fallbacks: Vec::new(),
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        on_conflict: OnConflict::Fail,
        listen: false,
        check_owner: true,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = Identity {
        project: "bench".into(),
        config: "bench.toml".into(),
    };
    let allocator = Allocator::with_dir(dir.path().to_path_buf(), 25_000..=25_999, identity);
    println!(
        "port allocation: lock + bind check per port, {ROUNDS} rounds of {PER_ROUND} ports held at once\n"
    );

    let mut preferred = Vec::new();
    let mut auto = Vec::new();
    for _ in 0..ROUNDS {
        let mut held = Vec::new();
        for i in 0..PER_ROUND {
            let started = Instant::now();
            let outcome = allocator.allocate("svc", &spec(Some(25_000 + i as u16)));
            preferred.push(started.elapsed().as_secs_f64() * 1e6);
            if let Allocation::Assigned(a) = outcome {
                held.push(a);
            }
        }
        drop(held);
        let mut held = Vec::new();
        for i in 0..PER_ROUND {
            let started = Instant::now();
            let outcome = allocator.allocate(&format!("svc{i}"), &spec(None));
            auto.push(started.elapsed().as_secs_f64() * 1e6);
            match outcome {
                Allocation::Assigned(a) => held.push(a),
                other => panic!("the range has room: {other:?}"),
            }
        }
    }
    println!(
        "preferred port (free):       median {:>6.1} µs per port",
        median(&mut preferred)
    );
    println!(
        "auto, range filling to 10%:  median {:>6.1} µs per port",
        median(&mut auto)
    );

    // Twenty instances contending for one range: the locks make them skip
    // each other's ports; how much does that cost?
    let started = Instant::now();
    let held: Vec<_> = (0..20)
        .flat_map(|instance| {
            let identity = Identity {
                project: format!("i{instance}"),
                config: "bench.toml".into(),
            };
            let allocator =
                Allocator::with_dir(dir.path().to_path_buf(), 25_000..=25_249, identity);
            (0..10)
                .map(
                    |s| match allocator.allocate(&format!("s{s}"), &spec(None)) {
                        Allocation::Assigned(a) => a,
                        other => panic!("{other:?}"),
                    },
                )
                .collect::<Vec<_>>()
        })
        .collect();
    let per_port = started.elapsed().as_secs_f64() * 1e6 / held.len() as f64;
    println!("20 instances × 10 auto ports from 250 (same names): {per_port:.1} µs per port");
}
