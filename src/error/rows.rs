//! Every bad row of a file (a roster import), carried by [`super::Error::Rows`].

use serde::Serialize;

use super::Kind;

/// A bad row: its line in the file and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
    /// `forbidden` when the row asks for what the actor may not do.
    #[serde(skip)]
    pub forbidden: bool,
}

impl RowError {
    pub fn invalid(line: u64, message: impl Into<String>) -> Self {
        RowError {
            line,
            message: message.into(),
            forbidden: false,
        }
    }
    pub fn forbidden(line: u64, message: impl Into<String>) -> Self {
        RowError {
            line,
            message: message.into(),
            forbidden: true,
        }
    }
}

/// Every bad row of a file, as one error: exit 3 (invalid input), or 4 when
/// the only problems are rows the actor may not write.
#[derive(Debug)]
pub struct RowErrors {
    pub rows: Vec<RowError>,
    pub summary: String,
}

impl RowErrors {
    pub fn kind(&self) -> Kind {
        if self.rows.iter().all(|r| r.forbidden) {
            Kind::Forbidden
        } else {
            Kind::Invalid
        }
    }
}
