//! The volume layer: MBR (primary partitions and the logical ones in extended partitions) and
//! GPT partition tables, read from sector 0 and 1 of an image of 512-byte sectors.

use super::Media;

/// Sector size the tables are read with (the size every MBR and nearly every GPT disk uses).
const SECTOR: u64 = 512;
/// Logical partitions followed along an extended partition's chain, at most (a loop stops here).
const MAX_LOGICAL: usize = 128;
/// GPT entries read, at most.
const MAX_GPT_ENTRIES: u32 = 1024;

/// One partition: its number in the table (1-based, logical MBR partitions from 5), byte range
/// and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Number in the table: MBR primaries 1–4, logical partitions 5, 6, …; GPT entries from 1.
    pub number: u32,
    /// Offset in the image, bytes.
    pub offset: u64,
    /// Length, bytes (cut to what the image holds).
    pub len: u64,
    /// The type: `mbr:0x0c` or the GPT type GUID, with a name when known.
    pub kind: String,
    /// Whether the table says the partition runs past the end of the image.
    pub truncated: bool,
}

fn mbr_type_name(t: u8) -> &'static str {
    match t {
        0x01 => "FAT12",
        0x04 | 0x06 | 0x0e => "FAT16",
        0x0b | 0x0c => "FAT32",
        0x07 => "NTFS/exFAT",
        0x83 => "Linux",
        0x82 => "Linux swap",
        0x8e => "Linux LVM",
        0xa5 | 0xa6 | 0xa9 => "BSD",
        0xaf => "HFS+",
        _ => "unknown",
    }
}

fn gpt_type_name(guid: &str) -> &'static str {
    match guid {
        "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" => "EFI system",
        "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7" => "Microsoft basic data",
        "e3c9e316-0b5c-4db8-817d-f92df00215ae" => "Microsoft reserved",
        "de94bba4-06d1-4d40-a16a-bfd50179d6ac" => "Windows recovery",
        "0fc63daf-8483-4772-8e79-3d69d8477de4" => "Linux filesystem",
        "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f" => "Linux swap",
        "48465300-0000-11aa-aa11-00306543ecac" => "HFS+",
        "7c3457ef-0000-11aa-aa11-00306543ecac" => "APFS",
        _ => "unknown",
    }
}

/// A GPT GUID as text (mixed-endian, as GPT stores it).
fn guid(b: &[u8]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{}",
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8],
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

/// The partition table of the medium `file`: `("gpt", …)` when sector 0 holds a
/// protective MBR and sector 1 a GPT header, `("mbr", …)` for an MBR; `None` when sector 0 is not
/// a partition table. Partitions that start past the image's end are left out; those that run
/// past it are cut and marked `truncated`.
pub fn partitions(file: &Media) -> Option<(&'static str, Vec<Partition>)> {
    let len = file.len();
    let mut mbr = [0u8; 512];
    file.read_exact_at(&mut mbr, 0).ok()?;
    if mbr[510] != 0x55 || mbr[511] != 0xaa {
        return None;
    }
    let entries: Vec<&[u8]> = (0..4).map(|i| &mbr[446 + 16 * i..462 + 16 * i]).collect();
    // Every entry must be empty or plausible: boot flag 0 or 0x80, a start past the table.
    let plausible = entries.iter().all(|e| {
        matches!(e[0], 0 | 0x80) && (e[4] == 0 || (u32_at(e, 8) >= 1 && u32_at(e, 12) > 0))
    });
    if !plausible || entries.iter().all(|e| e[4] == 0) {
        return None;
    }
    let make = |number: u32, start: u64, sectors: u64, kind: String| -> Option<Partition> {
        let offset = start.checked_mul(SECTOR)?;
        let size = sectors.checked_mul(SECTOR)?;
        (offset < len).then(|| Partition {
            number,
            offset,
            len: size.min(len - offset),
            kind,
            truncated: offset.saturating_add(size) > len,
        })
    };
    if entries.iter().any(|e| e[4] == 0xee) {
        if let Some(parts) = gpt(file, len, &make) {
            return Some(("gpt", parts));
        }
    }
    let mut parts = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let t = e[4];
        let (start, sectors) = (u32_at(e, 8) as u64, u32_at(e, 12) as u64);
        if t == 0 {
            continue;
        }
        if matches!(t, 0x05 | 0x0f | 0x85) {
            parts.extend(logical(file, start, &make));
            continue;
        }
        let kind = format!("mbr:0x{t:02x} ({})", mbr_type_name(t));
        parts.extend(make(i as u32 + 1, start, sectors, kind));
    }
    Some(("mbr", parts))
}

/// The logical partitions of the extended partition starting at sector `ext`: each EBR's first
/// entry is a partition relative to that EBR, its second the next EBR relative to `ext`.
fn logical(
    file: &Media,
    ext: u64,
    make: &dyn Fn(u32, u64, u64, String) -> Option<Partition>,
) -> Vec<Partition> {
    let mut out = Vec::new();
    let mut ebr = ext;
    let mut seen = std::collections::HashSet::new();
    while out.len() < MAX_LOGICAL && seen.insert(ebr) {
        let mut b = [0u8; 512];
        if file.read_exact_at(&mut b, ebr * SECTOR).is_err() || b[510..] != [0x55, 0xaa] {
            break;
        }
        let (e, next) = (&b[446..462], &b[462..478]);
        if e[4] != 0 && u32_at(e, 12) > 0 {
            let kind = format!("mbr:0x{:02x} ({})", e[4], mbr_type_name(e[4]));
            let number = 5 + out.len() as u32;
            out.extend(make(
                number,
                ebr + u32_at(e, 8) as u64,
                u32_at(e, 12) as u64,
                kind,
            ));
        }
        if next[4] == 0 || u32_at(next, 8) == 0 {
            break;
        }
        ebr = ext + u32_at(next, 8) as u64;
    }
    out
}

/// The partitions of the GPT whose header is in sector 1, if it has a valid signature.
fn gpt(
    file: &Media,
    len: u64,
    make: &dyn Fn(u32, u64, u64, String) -> Option<Partition>,
) -> Option<Vec<Partition>> {
    let mut h = [0u8; 92];
    file.read_exact_at(&mut h, SECTOR).ok()?;
    if &h[..8] != b"EFI PART" {
        return None;
    }
    let table = u64_at(&h, 72).checked_mul(SECTOR)?;
    let count = u32_at(&h, 80).min(MAX_GPT_ENTRIES);
    let size = u32_at(&h, 84) as u64;
    if !(128..=4096).contains(&size) || table >= len {
        return None;
    }
    let mut parts = Vec::new();
    let mut e = vec![0u8; size as usize];
    for i in 0..count as u64 {
        if file.read_exact_at(&mut e, table + i * size).is_err() {
            break;
        }
        if e[..16].iter().all(|&b| b == 0) {
            continue;
        }
        let (first, last) = (u64_at(&e, 32), u64_at(&e, 40));
        if last < first {
            continue;
        }
        let t = guid(&e[..16]);
        let name: String = char::decode_utf16(
            e[56..128]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&c| c != 0),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
        let mut kind = format!("gpt:{t} ({})", gpt_type_name(&t));
        if !name.is_empty() {
            kind.push_str(&format!(" \"{name}\""));
        }
        parts.extend(make(
            i as u32 + 1,
            first,
            (last - first).saturating_add(1),
            kind,
        ));
    }
    Some(parts)
}
