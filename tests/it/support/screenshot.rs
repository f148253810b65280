//! A terminal capture (text with ANSI SGR colours) drawn to a PNG, for the README's
//! picture of `albkit top`: each cell is a glyph of DejaVu Sans Mono (Debian's
//! `fonts-dejavu-core`), rasterized by `ab_glyph`; the PNG is written with `flate2`
//! (zlib for the image data, CRC-32 for the chunks).

use std::io::Write;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};

/// Where Debian's `fonts-dejavu-core` puts the monospace font.
pub(crate) const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";

type Rgb = [u8; 3];

const BACKGROUND: Rgb = [0x1d, 0x1f, 0x21];
const FOREGROUND: Rgb = [0xd0, 0xd0, 0xd0];
const BOLD: Rgb = [0xff, 0xff, 0xff];
const RED: Rgb = [0xf2, 0x5f, 0x5c];
const YELLOW: Rgb = [0xf0, 0xc6, 0x74];

/// One character cell: the character and its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cell {
    pub ch: char,
    pub colour: Rgb,
}

/// The lines of a capture as cells: SGR sequences (`ESC [ … m`) set the colour (1 bold,
/// 31 red, 33 yellow, 0 or none: back to normal); other escape sequences (cursor moves,
/// erases) and carriage returns are dropped.
pub(crate) fn cells(capture: &str) -> Vec<Vec<Cell>> {
    let mut lines = vec![Vec::new()];
    let mut colour = FOREGROUND;
    let mut chars = capture.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                let mut seq = String::new();
                if chars.peek() == Some(&'[') {
                    chars.next();
                }
                for s in chars.by_ref() {
                    if s.is_ascii_alphabetic() {
                        if s == 'm' {
                            colour = match seq.as_str() {
                                "1" => BOLD,
                                "31" => RED,
                                "33" => YELLOW,
                                _ => FOREGROUND,
                            };
                        }
                        break;
                    }
                    seq.push(s);
                }
            }
            '\r' => {}
            '\n' => lines.push(Vec::new()),
            c => lines
                .last_mut()
                .expect("a line")
                .push(Cell { ch: c, colour }),
        }
    }
    while lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines
}

/// The capture drawn with `font_bytes` at `size` pixels: (width, height, RGB pixels).
pub(crate) fn draw(lines: &[Vec<Cell>], font_bytes: &[u8], size: f32) -> (u32, u32, Vec<u8>) {
    let font = FontRef::try_from_slice(font_bytes).expect("a TrueType font");
    let scaled = font.as_scaled(PxScale::from(size));
    let cell_w = scaled.h_advance(font.glyph_id('M')).ceil() as u32;
    let cell_h = (scaled.height() + scaled.line_gap()).ceil() as u32;
    let pad = cell_w * 2;
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let (w, h) = (
        columns * cell_w + 2 * pad,
        lines.len() as u32 * cell_h + 2 * pad,
    );
    let mut pixels: Vec<u8> = BACKGROUND.repeat((w * h) as usize);
    for (row, line) in lines.iter().enumerate() {
        for (col, cell) in line.iter().enumerate() {
            let x = pad + col as u32 * cell_w;
            let baseline = pad + row as u32 * cell_h + scaled.ascent().ceil() as u32;
            let glyph = font
                .glyph_id(cell.ch)
                .with_scale_and_position(size, ab_glyph::point(x as f32, baseline as f32));
            let Some(outlined) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i64 + i64::from(gx);
                let py = bounds.min.y as i64 + i64::from(gy);
                if px < 0 || py < 0 || px >= i64::from(w) || py >= i64::from(h) {
                    return;
                }
                let at = ((py as u32 * w + px as u32) * 3) as usize;
                for k in 0..3 {
                    let (bg, fg) = (f32::from(pixels[at + k]), f32::from(cell.colour[k]));
                    pixels[at + k] = (bg + (fg - bg) * coverage.min(1.0)).round() as u8;
                }
            });
        }
    }
    (w, h, pixels)
}

/// One PNG chunk: length, type, data, and the CRC-32 of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(kind);
    out.extend(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend(crc.sum().to_be_bytes());
}

/// An 8-bit RGB PNG of `pixels` (rows of `width` pixels, no filtering).
pub(crate) fn png(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend(width.to_be_bytes());
    header.extend(height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    header.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    for row in pixels.chunks(width as usize * 3) {
        // Filter type 0 (None) before each row.
        z.write_all(&[0])
            .and_then(|()| z.write_all(row))
            .expect("zlib");
    }
    chunk(&mut out, b"IDAT", &z.finish().expect("zlib"));
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn colours_are_read_and_other_escapes_dropped() {
    let lines = cells("\x1b[H\x1b[2J\x1b[1mtop\x1b[0m\r\n\x1b[31m5xx\x1b[0m x\n\n");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].iter().map(|c| c.ch).collect::<String>(), "top");
    assert_eq!(lines[0][0].colour, BOLD);
    assert_eq!(lines[1][0].colour, RED);
    assert_eq!(
        lines[1][4],
        Cell {
            ch: 'x',
            colour: FOREGROUND
        }
    );
}

#[test]
fn a_png_has_its_signature_chunks_and_checksums() {
    let data = png(2, 1, &[255, 0, 0, 0, 0, 255]);
    assert_eq!(&data[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&data[12..16], b"IHDR");
    // The CRC-32 of an empty IEND chunk is fixed by the PNG specification.
    assert_eq!(&data[data.len() - 8..], b"IEND\xae\x42\x60\x82");
}
