//! The colour of each service, the same in every front end: the
//! dashboard's merged log and headless `name | line` output name service
//! number 11 in the same colour.

/// A colour of the terminal's basic sixteen, which every theme and
/// terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Cyan,
    Yellow,
    Green,
    Magenta,
    Blue,
    LightCyan,
    LightYellow,
    LightGreen,
    LightMagenta,
    LightBlue,
    Red,
    LightRed,
}

/// Services are coloured in declaration order, cycling through these.
const CYCLE: [Colour; 12] = [
    Colour::Cyan,
    Colour::Yellow,
    Colour::Green,
    Colour::Magenta,
    Colour::Blue,
    Colour::LightCyan,
    Colour::LightYellow,
    Colour::LightGreen,
    Colour::LightMagenta,
    Colour::LightBlue,
    Colour::Red,
    Colour::LightRed,
];

/// The colour of the service at `index` (its place in the config).
pub fn of_service(index: usize) -> Colour {
    CYCLE[index % CYCLE.len()]
}

impl Colour {
    /// Its ANSI SGR foreground code.
    pub fn sgr(self) -> &'static str {
        match self {
            Colour::Cyan => "36",
            Colour::Yellow => "33",
            Colour::Green => "32",
            Colour::Magenta => "35",
            Colour::Blue => "34",
            Colour::LightCyan => "96",
            Colour::LightYellow => "93",
            Colour::LightGreen => "92",
            Colour::LightMagenta => "95",
            Colour::LightBlue => "94",
            Colour::Red => "31",
            Colour::LightRed => "91",
        }
    }
}
