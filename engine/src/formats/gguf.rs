//! GGUF v2/v3 reader: metadata of every type, tensor infos and alignment, all validated
//! against the file's length before use.

use super::dtype::DType;
use super::{FormatError, Incomplete, TensorInfo};
use std::collections::BTreeMap;

const MAGIC: &[u8; 4] = b"GGUF";
const MAX_DIMS: u32 = 4;
const DEFAULT_ALIGNMENT: u64 = 32;

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    Array(Vec<MetaValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl MetaValue {
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v as u64),
            MetaValue::U16(v) => Some(v as u64),
            MetaValue::U32(v) => Some(v as u64),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) if v >= 0 => Some(v as u64),
            MetaValue::I16(v) if v >= 0 => Some(v as u64),
            MetaValue::I32(v) if v >= 0 => Some(v as u64),
            MetaValue::I64(v) if v >= 0 => Some(v as u64),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            MetaValue::I8(v) => Some(v as i64),
            MetaValue::I16(v) => Some(v as i64),
            MetaValue::I32(v) => Some(v as i64),
            MetaValue::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(v as f64),
            MetaValue::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            MetaValue::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// A parsed GGUF header. Tensor offsets are absolute offsets into the file.
#[derive(Debug)]
pub struct GgufHeader {
    pub version: u32,
    pub metadata: BTreeMap<String, MetaValue>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    pub data_offset: u64,
}

/// Reads the first bytes of a file of `file_len` bytes. Running past those bytes but not past
/// the file sets `need_more`: the caller retries with a longer prefix.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    file_len: u64,
    need_more: bool,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], FormatError> {
        let in_prefix = (self.buf.len() - self.pos) as u64;
        if n > in_prefix {
            self.need_more = n <= self.remaining();
            return Err(FormatError::Truncated(format!(
                "{what} needs {n} bytes at offset {} but only {} remain",
                self.pos,
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    /// Bytes left in the file (not the prefix): what bounds the counts a header declares.
    fn remaining(&self) -> u64 {
        self.file_len - self.pos as u64
    }
    fn u8(&mut self, what: &str) -> Result<u8, FormatError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, FormatError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, FormatError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, FormatError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    fn string(&mut self, what: &str) -> Result<String, FormatError> {
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| FormatError::Invalid(format!("{what} is not valid UTF-8")))
    }
}

/// Parses the header of a `file_len`-byte GGUF file from its first bytes `buf`.
pub(crate) fn parse_prefix(buf: &[u8], file_len: u64) -> Result<GgufHeader, Incomplete> {
    let mut c = Cursor { buf, pos: 0, file_len, need_more: false };
    parse_header(&mut c).map_err(|e| if c.need_more { Incomplete::NeedMore } else { Incomplete::Error(e) })
}

fn parse_header(c: &mut Cursor) -> Result<GgufHeader, FormatError> {
    let file_len = c.file_len;
    let magic = c.take(4, "magic")?;
    if magic != MAGIC {
        return Err(FormatError::BadMagic(format!(
            "expected \"GGUF\", found {:02x?}",
            magic
        )));
    }
    let version = c.u32("version")?;
    if !(2..=3).contains(&version) {
        return Err(FormatError::Invalid(format!(
            "GGUF version {version} is not supported (2 and 3 are)"
        )));
    }
    let n_tensors = c.u64("tensor count")?;
    let n_kv = c.u64("metadata count")?;
    // Each entry takes at least 8 (key length) + 4 (type) bytes: bound counts by the file.
    if n_kv > c.remaining() / 12 {
        return Err(FormatError::Invalid(format!(
            "metadata count {n_kv} cannot fit in a {file_len}-byte file"
        )));
    }
    if n_tensors > c.remaining() / 24 {
        return Err(FormatError::Invalid(format!(
            "tensor count {n_tensors} cannot fit in a {file_len}-byte file"
        )));
    }
    let mut metadata = BTreeMap::new();
    for _ in 0..n_kv {
        let key = c.string("metadata key")?;
        let ty = c.u32("metadata type")?;
        let value = read_value(c, ty, &key, 0)?;
        metadata.insert(key, value);
    }
    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(v) => match v.as_u64() {
            Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
            _ => {
                return Err(FormatError::Invalid(format!(
                    "general.alignment {v:?} is not a power of two up to 1 MiB"
                )))
            }
        },
    };
    let mut raw = Vec::with_capacity(n_tensors as usize);
    for i in 0..n_tensors {
        let name = c.string("tensor name")?;
        let n_dims = c.u32("tensor dimension count")?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(FormatError::Invalid(format!(
                "tensor {i} '{name}' has {n_dims} dimensions (1..={MAX_DIMS} allowed)"
            )));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(c.u64("tensor dimension")?);
        }
        let ty = c.u32("tensor type")?;
        let offset = c.u64("tensor offset")?;
        raw.push((name, dims, ty, offset));
    }
    let data_offset = (c.pos as u64).div_ceil(alignment) * alignment;
    if data_offset > file_len && n_tensors > 0 {
        return Err(FormatError::Truncated(format!(
            "tensor data would start at {data_offset}, past the end of the {file_len}-byte file"
        )));
    }
    let mut tensors = Vec::with_capacity(raw.len());
    for (name, dims, ty, offset) in raw {
        let dtype = DType::from_ggml_id(ty).map_err(|e| match e {
            FormatError::UnsupportedType(t) => {
                FormatError::UnsupportedType(format!("{t} in tensor '{name}'"))
            }
            e => e,
        })?;
        let mut n: u64 = 1;
        for &d in &dims {
            n = n.checked_mul(d).filter(|&n| n > 0 && n <= file_len * 8).ok_or_else(|| {
                FormatError::Shape(format!(
                    "tensor '{name}' has absurd dimensions {dims:?} for a {file_len}-byte file"
                ))
            })?;
        }
        let size = dtype
            .bytes_for(n)
            .map_err(|e| FormatError::Shape(format!("tensor '{name}': {e}")))?;
        if offset % alignment != 0 {
            return Err(FormatError::Invalid(format!(
                "tensor '{name}' offset {offset} is not aligned to {alignment}"
            )));
        }
        let start = data_offset.checked_add(offset);
        let end = start.and_then(|s| s.checked_add(size));
        match end {
            Some(end) if end <= file_len => {}
            _ => {
                return Err(FormatError::Truncated(format!(
                    "tensor '{name}' ({} bytes at data offset {offset}) runs past the end of the {file_len}-byte file",
                    size
                )))
            }
        }
        // GGUF lists dims fastest-first; shapes here are row-major (slowest first).
        let shape: Vec<usize> = dims.iter().rev().map(|&d| d as usize).collect();
        tensors.push(TensorInfo { name, dtype, shape, offset: data_offset + offset, size });
    }
    Ok(GgufHeader { version, metadata, tensors, alignment, data_offset })
}

const MAX_NESTING: u32 = 2;

fn read_value(c: &mut Cursor, ty: u32, key: &str, depth: u32) -> Result<MetaValue, FormatError> {
    let what = key;
    Ok(match ty {
        0 => MetaValue::U8(c.u8(what)?),
        1 => MetaValue::I8(c.u8(what)? as i8),
        2 => MetaValue::U16(c.u16(what)?),
        3 => MetaValue::I16(c.u16(what)? as i16),
        4 => MetaValue::U32(c.u32(what)?),
        5 => MetaValue::I32(c.u32(what)? as i32),
        6 => MetaValue::F32(f32::from_bits(c.u32(what)?)),
        7 => MetaValue::Bool(match c.u8(what)? {
            0 => false,
            1 => true,
            b => return Err(FormatError::Invalid(format!("metadata '{key}': bool byte {b}"))),
        }),
        8 => MetaValue::Str(c.string(what)?),
        9 => {
            if depth >= MAX_NESTING {
                return Err(FormatError::Invalid(format!("metadata '{key}': arrays nested too deep")));
            }
            let elem_ty = c.u32(what)?;
            let count = c.u64(what)?;
            let min_size = match elem_ty {
                0 | 1 | 7 => 1,
                2 | 3 => 2,
                4 | 5 | 6 => 4,
                8 | 10 | 11 | 12 => 8,
                9 => 12,
                t => return Err(FormatError::Invalid(format!("metadata '{key}': unknown array element type {t}"))),
            };
            if count > c.remaining() / min_size {
                return Err(FormatError::Truncated(format!(
                    "metadata '{key}': array of {count} elements cannot fit in the {} bytes left",
                    c.remaining()
                )));
            }
            let mut v = Vec::with_capacity((count as usize).min(1 << 16));
            for _ in 0..count {
                v.push(read_value(c, elem_ty, key, depth + 1)?);
            }
            MetaValue::Array(v)
        }
        10 => MetaValue::U64(c.u64(what)?),
        11 => MetaValue::I64(c.u64(what)? as i64),
        12 => MetaValue::F64(f64::from_bits(c.u64(what)?)),
        t => return Err(FormatError::Invalid(format!("metadata '{key}': unknown value type {t}"))),
    })
}

/// Writes a GGUF v3 file: used by tests to build tiny models and malformed variants.
pub fn write(
    metadata: &[(String, MetaValue)],
    tensors: &[(String, DType, Vec<usize>, Vec<u8>)],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn type_id(v: &MetaValue) -> u32 {
        match v {
            MetaValue::U8(_) => 0,
            MetaValue::I8(_) => 1,
            MetaValue::U16(_) => 2,
            MetaValue::I16(_) => 3,
            MetaValue::U32(_) => 4,
            MetaValue::I32(_) => 5,
            MetaValue::F32(_) => 6,
            MetaValue::Bool(_) => 7,
            MetaValue::Str(_) => 8,
            MetaValue::Array(_) => 9,
            MetaValue::U64(_) => 10,
            MetaValue::I64(_) => 11,
            MetaValue::F64(_) => 12,
        }
    }
    fn put_value(out: &mut Vec<u8>, v: &MetaValue) {
        match v {
            MetaValue::U8(x) => out.push(*x),
            MetaValue::I8(x) => out.push(*x as u8),
            MetaValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::Bool(x) => out.push(*x as u8),
            MetaValue::Str(s) => put_str(out, s),
            MetaValue::Array(a) => {
                let et = a.first().map(type_id).unwrap_or(4);
                out.extend_from_slice(&et.to_le_bytes());
                out.extend_from_slice(&(a.len() as u64).to_le_bytes());
                for x in a {
                    put_value(out, x);
                }
            }
            MetaValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        }
    }
    for (k, v) in metadata {
        put_str(&mut out, k);
        out.extend_from_slice(&type_id(v).to_le_bytes());
        put_value(&mut out, v);
    }
    let mut offset = 0u64;
    let mut offsets = Vec::new();
    for (name, dtype, shape, data) in tensors {
        put_str(&mut out, name);
        out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for &d in shape.iter().rev() {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
        out.extend_from_slice(&dtype.ggml_id().to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        offsets.push(offset);
        offset = (offset + data.len() as u64).div_ceil(DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT;
    }
    let start = (out.len() as u64).div_ceil(DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT;
    out.resize(start as usize, 0);
    for ((_, _, _, data), off) in tensors.iter().zip(offsets) {
        out.resize((start + off) as usize, 0);
        out.extend_from_slice(data);
    }
    out
}
