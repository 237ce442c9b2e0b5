//! Dashboards.
use crate::spec::Specs;
/// Dashboards.
pub fn generate_dashboards(_specs: &Specs) -> Vec<(String, String)> {
    Vec::new()
}
/// Exprs.
pub fn panel_expressions(_specs: &Specs) -> Vec<String> {
    Vec::new()
}
