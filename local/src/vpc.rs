//! The app's VPC, played locally, for an internal load balancer: its test
//! listener answers only on an address of its own, by the load balancer's
//! DNS name, which only the functions placed in the VPC resolve (as the
//! VPC's resolver answers an internal ALB's name with private addresses).
//! Here the smoke-test function is the one placed in it (the CDK switcher's
//! `vpcPlacement`); the test process, the CLI and everything else resolve
//! names as this machine does, and do not reach it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::net::TcpListener;

/// The VPC's private names (an internal load balancer's DNS name) and the
/// address each resolves to; other names resolve as the machine resolves
/// them, as the VPC's resolver forwards public names.
#[derive(Clone, Default)]
pub struct VpcDns {
    names: Arc<Mutex<HashMap<String, IpAddr>>>,
}

impl VpcDns {
    pub fn add(&self, name: &str, ip: IpAddr) {
        self.names
            .lock()
            .expect("vpc names")
            .insert(name.to_ascii_lowercase(), ip);
    }
}

impl Resolve for VpcDns {
    fn resolve(&self, name: Name) -> Resolving {
        let private = self
            .names
            .lock()
            .expect("vpc names")
            .get(&name.as_str().to_ascii_lowercase())
            .copied();
        Box::pin(async move {
            let addrs: Addrs = match private {
                // The port is the URL's (reqwest sets it).
                Some(ip) => Box::new(std::iter::once(SocketAddr::new(ip, 0))),
                None => Box::new(
                    tokio::net::lookup_host((name.as_str(), 0))
                        .await?
                        .collect::<Vec<_>>()
                        .into_iter(),
                ),
            };
            Ok(addrs)
        })
    }
}

/// Binds `port` (the listener's port on the load balancer, as its private
/// URL names it) on a loopback address no other local app uses: the
/// listener's private address in the VPC. Linux routes all of 127.0.0.0/8
/// to the loopback interface, so each app gets an address of its own and
/// several apps (and several test processes) may each have their `:8080`.
pub async fn bind_private(port: u16) -> std::io::Result<(TcpListener, IpAddr)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // The process id spreads concurrent test processes over the second
    // octet; a taken address is skipped.
    let base = std::process::id() % 200 + 20;
    let mut last = None;
    for _ in 0..64 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let ip = IpAddr::V4(Ipv4Addr::new(
            127,
            base as u8,
            (n / 250 % 250) as u8,
            (n % 250 + 1) as u8,
        ));
        match TcpListener::bind((ip, port)).await {
            Ok(listener) => return Ok((listener, ip)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no private address left")))
}
