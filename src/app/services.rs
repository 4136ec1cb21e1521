//! Every long-running part of the daemon (listeners, the store writer, sinks, the API, the P2P
//! node, ...) is a service: started through [`Services::spawn`] or [`Services::spawn_thread`],
//! stopped through one loop in [`Services::stop`], in the order [`STOP_ORDER`] gives, each within
//! its grace, reported the same way. A service that ends before shutdown was asked for ends the
//! daemon with an error.

use std::any::Any;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::one_line;

/// When a service is told to stop, relative to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Takes in attacker traffic (SIP listeners and their helpers): stops first, so nothing new
    /// arrives.
    Intake,
    /// Serves clients and peers (API, P2P node): stops once capture has stopped.
    Serving,
    /// Consumes the pipeline (store writer, sinks): the last pipeline handles are dropped before
    /// this stage, so each stops once it has drained its queue.
    Draining,
}

/// The shutdown order.
const STOP_ORDER: [Stage; 3] = [Stage::Intake, Stage::Serving, Stage::Draining];

/// How long stopping a service may take before it is reported and left behind.
#[derive(Debug, Clone, Copy)]
pub(super) enum Grace {
    /// Up to this long.
    Within(Duration),
    /// As long as it takes (the store writer: queued events are never abandoned).
    Unbounded,
}

/// One running service.
struct Running {
    name: &'static str,
    stage: Stage,
    grace: Grace,
    stop: CancellationToken,
    ended: oneshot::Receiver<anyhow::Result<()>>,
}

/// The running services and what they need to be stopped.
pub(super) struct Services {
    running: Vec<Running>,
    /// Cancelled on SIGINT/SIGTERM, by the caller, or when a service ends on its own.
    shutdown: CancellationToken,
    /// Names of services that ended, sent as they end (one per service, so never full).
    ended_tx: mpsc::Sender<&'static str>,
    ended_rx: mpsc::Receiver<&'static str>,
    /// Handles dropped right before [`Stage::Draining`] (the app's last pipeline handles).
    held_until_draining: Vec<Box<dyn Any + Send>>,
    /// The first failure: a service that ended on its own or returned an error.
    failure: Option<anyhow::Error>,
}

/// Most services the daemon runs; sizes the channel that reports their ends.
const MAX_SERVICES: usize = 64;

impl Services {
    /// No service yet; `shutdown` is the daemon's shutdown signal.
    pub(super) fn new(shutdown: CancellationToken) -> Self {
        let (ended_tx, ended_rx) = mpsc::channel(MAX_SERVICES);
        Self {
            running: Vec::new(),
            shutdown,
            ended_tx,
            ended_rx,
            held_until_draining: Vec::new(),
            failure: None,
        }
    }

    /// The daemon's shutdown signal.
    pub(super) fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Starts a service as a tokio task: `start` gets the service's own stop signal (cancelled
    /// when its stage comes), sets the service up and returns what runs until it stops.
    ///
    /// # Errors
    /// What `start` returned; nothing is spawned then.
    pub(super) fn spawn<F>(
        &mut self,
        name: &'static str,
        stage: Stage,
        grace: Grace,
        start: impl FnOnce(CancellationToken) -> anyhow::Result<F>,
    ) -> anyhow::Result<()>
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let (done, ended) = oneshot::channel();
        let running = start(stop.clone())?;
        let ended_tx = self.ended_tx.clone();
        tokio::spawn(async move {
            let _ = done.send(running.await);
            let _ = ended_tx.try_send(name);
        });
        self.add(name, stage, grace, stop, ended);
        Ok(())
    }

    /// Starts a service on a thread of its own, named after it.
    ///
    /// # Errors
    /// The OS could not start the thread.
    pub(super) fn spawn_thread(
        &mut self,
        name: &'static str,
        stage: Stage,
        grace: Grace,
        run: impl FnOnce(CancellationToken) -> anyhow::Result<()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let (done, ended) = oneshot::channel();
        let thread_stop = stop.clone();
        let ended_tx = self.ended_tx.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _ = done.send(run(thread_stop));
                let _ = ended_tx.try_send(name);
            })
            .with_context(|| format!("starting the {name} thread"))?;
        self.add(name, stage, grace, stop, ended);
        Ok(())
    }

    fn add(
        &mut self,
        name: &'static str,
        stage: Stage,
        grace: Grace,
        stop: CancellationToken,
        ended: oneshot::Receiver<anyhow::Result<()>>,
    ) {
        self.running.push(Running {
            name,
            stage,
            grace,
            stop,
            ended,
        });
    }

    /// Keeps `handle` alive until the draining stage begins (the last pipeline handles, whose
    /// drop closes every consumer's queue).
    pub(super) fn hold_until_draining(&mut self, handle: impl Any + Send) {
        self.held_until_draining.push(Box::new(handle));
    }

    /// Waits for the shutdown signal, or for a service to end on its own (a failure, even if it
    /// returned `Ok`), which then asks for shutdown.
    pub(super) async fn wait(&mut self) {
        tokio::select! {
            () = self.shutdown.cancelled() => {}
            Some(name) = self.ended_rx.recv() => {
                if !self.shutdown.is_cancelled() {
                    self.failure = Some(anyhow::anyhow!("{name} stopped unexpectedly"));
                    self.shutdown.cancel();
                }
            }
        }
    }

    /// Stops every service, stage by stage in [`STOP_ORDER`], each within its grace.
    ///
    /// # Errors
    /// The first failure: a service that ended on its own, returned an error, panicked, or did
    /// not stop within its grace.
    pub(super) async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for stage in STOP_ORDER {
            if stage == Stage::Draining {
                self.held_until_draining.clear();
            }
            let (now, later) = std::mem::take(&mut self.running)
                .into_iter()
                .partition::<Vec<_>, _>(|service| service.stage == stage);
            self.running = later;
            for service in &now {
                service.stop.cancel();
            }
            for service in now {
                let name = service.name;
                if let Err(error) = finish(service).await {
                    tracing::error!(service = name, error = %one_line(&error), "service failed");
                    self.failure.get_or_insert(error);
                }
            }
        }
        match self.failure {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// Waits for a stopped service to end within its grace; its result, or why there is none.
async fn finish(service: Running) -> anyhow::Result<()> {
    let Running {
        name, grace, ended, ..
    } = service;
    let result = match grace {
        Grace::Unbounded => ended.await,
        Grace::Within(limit) => match tokio::time::timeout(limit, ended).await {
            Ok(result) => result,
            Err(_) => anyhow::bail!("{name} did not stop within {limit:?}"),
        },
    };
    match result {
        Ok(outcome) => outcome.with_context(|| name.to_owned()),
        Err(_) => anyhow::bail!("{name} panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn services_stop_stage_by_stage_and_handles_drop_before_draining() {
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut services = Services::new(CancellationToken::new());
        let (held_tx, mut held_rx) = mpsc::channel::<()>(1);
        for (name, stage) in [
            ("writer", Stage::Draining),
            ("api", Stage::Serving),
            ("udp", Stage::Intake),
        ] {
            let order = std::sync::Arc::clone(&order);
            services
                .spawn(name, stage, Grace::Within(Duration::from_secs(5)), |stop| {
                    Ok(async move {
                        stop.cancelled().await;
                        order.lock().expect("lock").push(name);
                        Ok(())
                    })
                })
                .expect("started");
        }
        // A consumer that ends when the held handle is dropped.
        services
            .spawn("sink", Stage::Draining, Grace::Unbounded, |_stop| {
                Ok(async move {
                    held_rx.recv().await;
                    Ok(())
                })
            })
            .expect("started");
        services.hold_until_draining(held_tx);
        services.shutdown().cancel();
        services.wait().await;
        services.stop().await.expect("clean stop");
        assert_eq!(*order.lock().expect("lock"), ["udp", "api", "writer"]);
    }

    #[tokio::test]
    async fn a_service_that_ends_on_its_own_is_a_failure_and_asks_for_shutdown() {
        let mut services = Services::new(CancellationToken::new());
        let ends_at_once = |_| Ok(async { Ok(()) });
        services
            .spawn("udp", Stage::Intake, Grace::Unbounded, ends_at_once)
            .expect("started");
        services
            .spawn("api", Stage::Serving, Grace::Unbounded, |stop| {
                Ok(async move {
                    stop.cancelled().await;
                    Ok(())
                })
            })
            .expect("started");
        services.wait().await;
        assert!(services.shutdown().is_cancelled());
        let error = services.stop().await.expect_err("failure");
        assert_eq!(error.to_string(), "udp stopped unexpectedly");
    }

    #[tokio::test]
    async fn errors_and_overrun_graces_are_reported() {
        let mut services = Services::new(CancellationToken::new());
        services
            .spawn(
                "slow",
                Stage::Intake,
                Grace::Within(Duration::from_millis(10)),
                |_| Ok(std::future::pending()),
            )
            .expect("started");
        services
            .spawn_thread("broken", Stage::Draining, Grace::Unbounded, |_| {
                anyhow::bail!("disk on fire")
            })
            .expect("thread");
        services.shutdown().cancel();
        services.wait().await;
        let error = services.stop().await.expect_err("failure");
        assert!(
            error.to_string().contains("slow did not stop within"),
            "{error}"
        );
    }
}
