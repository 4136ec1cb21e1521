//! The overview's world map of source countries: one square tile per country, placed on a
//! 5-degree grid at the country's approximate centre ([`places`]) and moved to the nearest free
//! cell when another country took that one, shaded by its events (five steps on a log scale).
//! Drawn on the server as SVG with presentation attributes and classes only (no script, no
//! inline style: the CSP holds), from no external data.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use maud::{Markup, html};

use super::places::PLACES;
use crate::gui::layout::number;

/// Degrees per grid cell.
const CELL_DEGREES: f64 = 5.0;
/// Drawing units per grid cell.
const TILE: i32 = 16;
/// Columns (longitude -180 to 180) and rows (latitude 80 to -60; Antarctica sits on the last
/// row) of the grid.
const COLUMNS: i32 = 72;
const ROWS: i32 = 28;
/// Northernmost latitude drawn.
const TOP_LATITUDE: f64 = 80.0;
/// Shades above "none".
const SHADES: u64 = 5;

/// A country's tile: its grid column and row.
type Cell = (i32, i32);

/// Every country's tile, computed once.
fn tiles() -> &'static [(&'static str, Cell)] {
    static TILES: OnceLock<Vec<(&'static str, Cell)>> = OnceLock::new();
    TILES.get_or_init(|| {
        let mut taken = HashSet::new();
        PLACES
            .iter()
            .map(|&(code, latitude, longitude)| {
                let cell = nearest_free(ideal(latitude, longitude), &taken);
                taken.insert(cell);
                (code, cell)
            })
            .collect()
    })
}

/// Where a country would sit on the grid, in fractional cells.
fn ideal(latitude: i16, longitude: i16) -> (f64, f64) {
    let column = (f64::from(longitude) + 180.0) / CELL_DEGREES;
    let row = (TOP_LATITUDE - f64::from(latitude)) / CELL_DEGREES;
    (column, row)
}

/// The free cell nearest to `at` (ties: the upper, then the left one).
fn nearest_free(at: (f64, f64), taken: &HashSet<Cell>) -> Cell {
    let (column, row) = at;
    let home = (
        (column.floor() as i32).clamp(0, COLUMNS - 1),
        (row.floor() as i32).clamp(0, ROWS - 1),
    );
    for ring in 0..COLUMNS {
        let mut best: Option<(f64, Cell)> = None;
        for dy in -ring..=ring {
            for dx in -ring..=ring {
                if dx.abs().max(dy.abs()) != ring {
                    continue;
                }
                let cell = (home.0 + dx, home.1 + dy);
                let inside = (0..COLUMNS).contains(&cell.0) && (0..ROWS).contains(&cell.1);
                if !inside || taken.contains(&cell) {
                    continue;
                }
                let distance = (f64::from(cell.0) + 0.5 - column).powi(2)
                    + (f64::from(cell.1) + 0.5 - row).powi(2);
                if best.is_none_or(|(nearest, _)| distance < nearest) {
                    best = Some((distance, cell));
                }
            }
        }
        if let Some((_, cell)) = best {
            return cell;
        }
    }
    home
}

/// The shade (0 = none, 1 to [`SHADES`]) of `count` events when the busiest country has `largest`.
fn shade(count: u64, largest: u64) -> u64 {
    if count == 0 || largest == 0 {
        return 0;
    }
    let scale = (count as f64).ln_1p() / (largest as f64).ln_1p();
    ((scale * SHADES as f64).ceil() as u64).clamp(1, SHADES)
}

/// The map for `countries` (code and events; `""` for addresses with no country).
pub(super) fn world_map(countries: &HashMap<String, u64>) -> Markup {
    let largest = countries.values().copied().max().unwrap_or(0);
    let placed: HashSet<&str> = tiles().iter().map(|(code, _)| *code).collect();
    let mut unplaced: Vec<(&str, u64)> = countries
        .iter()
        .filter(|(code, _)| !code.is_empty() && !placed.contains(code.as_str()))
        .map(|(code, count)| (code.as_str(), *count))
        .collect();
    unplaced.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let no_country = countries.get("").copied().unwrap_or(0);
    let shown = countries
        .iter()
        .filter(|(code, _)| placed.contains(code.as_str()))
        .count();
    html! {
        svg.world-map viewBox={ "0 0 " (COLUMNS * TILE) " " (ROWS * TILE) } role="img"
            aria-label={ (shown) " source countries on a tile map" } {
            @for (code, (column, row)) in tiles() {
                @let count = countries.get(*code).copied().unwrap_or(0);
                g class={ "tile shade-" (shade(count, largest)) } data-country=(code) data-count=(count) {
                    title { (code) ": " (number(count)) " events" }
                    rect x=(column * TILE + 1) y=(row * TILE + 1) width=(TILE - 2) height=(TILE - 2) rx="2" {}
                    text x=(column * TILE + TILE / 2) y=(row * TILE + TILE / 2 + 3) text-anchor="middle" { (code) }
                }
            }
        }
        p.caption {
            "One tile per country near its centre (tiles move aside where countries crowd); "
            "darker is more events (log scale). "
            @if no_country > 0 { (number(no_country)) " events from addresses with no country. " }
            @if !unplaced.is_empty() {
                "Not on the map: "
                @for (index, (code, count)) in unplaced.iter().enumerate() {
                    @if index > 0 { ", " }
                    (code) " (" (number(*count)) ")"
                }
                "."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_has_its_own_cell_inside_the_grid() {
        let cells: HashSet<Cell> = tiles().iter().map(|(_, cell)| *cell).collect();
        assert_eq!(cells.len(), PLACES.len());
        assert!(
            cells
                .iter()
                .all(|(column, row)| (0..COLUMNS).contains(column) && (0..ROWS).contains(row))
        );
    }

    #[test]
    fn countries_stay_near_their_place() {
        let cell = |code: &str| {
            tiles()
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, cell)| *cell)
        };
        // The United States west of Germany, Australia south of Japan, Brazil south of Canada.
        let (us, de) = (cell("US").expect("US"), cell("DE").expect("DE"));
        assert!(us.0 < de.0);
        let (au, jp) = (cell("AU").expect("AU"), cell("JP").expect("JP"));
        assert!(au.1 > jp.1);
        let (br, ca) = (cell("BR").expect("BR"), cell("CA").expect("CA"));
        assert!(br.1 > ca.1);
        for (code, latitude, longitude) in PLACES {
            let (column, row) = ideal(*latitude, *longitude);
            let (x, y) = cell(code).expect("placed");
            let moved = (f64::from(x) + 0.5 - column)
                .abs()
                .max((f64::from(y) + 0.5 - row).abs());
            assert!(moved <= 6.0, "{code} moved {moved} cells");
        }
    }

    #[test]
    fn tiles_are_shaded_by_events_and_codes_are_text() {
        let countries = HashMap::from([
            ("US".to_owned(), 100),
            ("DE".to_owned(), 1),
            ("".to_owned(), 7),
            ("<b>".to_owned(), 3),
        ]);
        let svg = world_map(&countries).into_string();
        assert!(
            svg.contains(r#"class="tile shade-5" data-country="US" data-count="100""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="tile shade-1" data-country="DE" data-count="1""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="tile shade-0" data-country="FR" data-count="0""#),
            "{svg}"
        );
        assert!(
            svg.contains("7 events from addresses with no country"),
            "{svg}"
        );
        assert!(
            svg.contains("&lt;b&gt; (3)") && !svg.contains("<b>"),
            "{svg}"
        );
    }
}
