//! The two colors an app runs in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    pub const BOTH: [Color; 2] = [Color::Blue, Color::Green];

    /// The color that is not this one: the idle one when this one is active.
    pub fn other(self) -> Color {
        match self {
            Color::Blue => Color::Green,
            Color::Green => Color::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a color: expected `blue` or `green`")]
pub struct NotAColor(pub String);

impl FromStr for Color {
    type Err = NotAColor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "blue" => Ok(Color::Blue),
            "green" => Ok(Color::Green),
            other => Err(NotAColor(other.to_string())),
        }
    }
}

/// A value per color.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerColor<T> {
    pub blue: T,
    pub green: T,
}

impl<T> PerColor<T> {
    pub fn from_fn(mut f: impl FnMut(Color) -> T) -> PerColor<T> {
        PerColor {
            blue: f(Color::Blue),
            green: f(Color::Green),
        }
    }

    pub fn get(&self, color: Color) -> &T {
        match color {
            Color::Blue => &self.blue,
            Color::Green => &self.green,
        }
    }

    pub fn get_mut(&mut self, color: Color) -> &mut T {
        match color {
            Color::Blue => &mut self.blue,
            Color::Green => &mut self.green,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_flips_and_parses_round_trip() {
        for c in Color::BOTH {
            assert_eq!(c.other().other(), c);
            assert_eq!(c.to_string().parse::<Color>().unwrap(), c);
        }
        assert!("purple".parse::<Color>().is_err());
    }
}
