//! Placeholder replaced below.
#[derive(clap::Args)]
pub struct LabArgs {}
pub fn run(_a: &LabArgs) -> Result<(), String> { Err("todo".into()) }
