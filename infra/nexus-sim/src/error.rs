//! The library's errors.

/// What can go wrong when starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The seed file cannot be read, parsed or built into a world.
    #[error("seed: {0}")]
    Seed(String),
    /// Binding the listening socket or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// The clock cannot be moved that way (e.g. backwards).
    #[error("clock: {0}")]
    Clock(String),
    /// No consignment has that id.
    #[error("consignment {0} does not exist")]
    NotFound(u64),
    /// The consignment cannot be stepped to the stage asked for.
    #[error("step: {0}")]
    Step(String),
}
