//! How production traffic is divided between the two colors, in percent.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::color::Color;

/// Production weights in percent. Always sums to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub blue: u8,
    pub green: u8,
}

impl Split {
    /// All traffic on one color.
    pub fn all(color: Color) -> Split {
        Split::with(color, 100)
    }

    /// `percent` on `color`, the rest on the other one. `percent` is clamped to 100.
    pub fn with(color: Color, percent: u8) -> Split {
        let p = percent.min(100);
        match color {
            Color::Blue => Split {
                blue: p,
                green: 100 - p,
            },
            Color::Green => Split {
                blue: 100 - p,
                green: p,
            },
        }
    }

    pub fn weight(&self, color: Color) -> u8 {
        match color {
            Color::Blue => self.blue,
            Color::Green => self.green,
        }
    }

    /// The color that takes all traffic, if one does.
    pub fn sole(&self) -> Option<Color> {
        Color::BOTH.into_iter().find(|c| self.weight(*c) == 100)
    }

    /// The percent split raw load-balancer weights (0..=999 each, relative)
    /// send exactly; `None` when both are zero or the shares are not whole
    /// percents (1/999 is not 0/100: a color with any weight gets traffic).
    pub fn from_weights(blue: u32, green: u32) -> Option<Split> {
        let total = u64::from(blue) + u64::from(green);
        if total == 0 || (u64::from(blue) * 100) % total != 0 {
            return None;
        }
        let blue_pct = (u64::from(blue) * 100 / total) as u8;
        Some(Split {
            blue: blue_pct,
            green: 100 - blue_pct,
        })
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blue {}% / green {}%", self.blue, self.green)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_and_all_sum_to_100() {
        assert_eq!(
            Split::with(Color::Green, 10),
            Split {
                blue: 90,
                green: 10
            }
        );
        assert_eq!(
            Split::all(Color::Blue),
            Split {
                blue: 100,
                green: 0
            }
        );
        assert_eq!(
            Split::with(Color::Blue, 200),
            Split {
                blue: 100,
                green: 0
            }
        );
        assert_eq!(Split::all(Color::Green).sole(), Some(Color::Green));
        assert_eq!(Split::with(Color::Green, 50).sole(), None);
    }

    #[test]
    fn from_weights_normalises_relative_weights() {
        assert_eq!(
            Split::from_weights(1, 1),
            Some(Split {
                blue: 50,
                green: 50
            })
        );
        assert_eq!(
            Split::from_weights(900, 100),
            Some(Split {
                blue: 90,
                green: 10
            })
        );
        assert_eq!(
            Split::from_weights(0, 7),
            Some(Split {
                blue: 0,
                green: 100
            })
        );
        assert_eq!(Split::from_weights(0, 0), None);
        assert_eq!(Split::from_weights(1, 999), None, "never rounded");
    }
}
