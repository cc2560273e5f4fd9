//! Weight file formats: GGUF and safetensors (HF folders), their element types and layouts.
//! Everything read from a file is validated before use; errors name the problem.

pub mod dequant;
pub mod dtype;
pub mod gguf;
pub mod gpu_pack;
pub mod hf;
pub mod quant;

pub use dtype::DType;
pub use gguf::MetaValue;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not a GGUF file: {0}")]
    BadMagic(String),
    #[error("truncated model file: {0}")]
    Truncated(String),
    #[error("invalid model file: {0}")]
    Invalid(String),
    #[error("unsupported tensor type {0}")]
    UnsupportedType(String),
    #[error("bad tensor shape: {0}")]
    Shape(String),
    #[error("missing {0}")]
    Missing(String),
    /// Something in the file that would change the computation and that the engine does not
    /// implement: running with it ignored would give wrong answers without a word.
    #[error("{0}: not implemented, and ignoring it would compute wrong results")]
    NotUnderstood(String),
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
}

/// Where a tensor's bytes are: `offset` into blob `blob` of the owning `ModelFile`.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: DType,
    /// Row-major shape, slowest dimension first ([rows, cols] for a matrix).
    pub shape: Vec<usize>,
    pub offset: u64,
    pub size: u64,
}

impl TensorInfo {
    pub fn elems(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The bytes of one weight file, read by range: a memory map natively, bytes in memory in
/// tests, a browser `Blob` on the web. Readers ask for one tensor at a time, so a loader in the
/// browser never holds a whole model in the wasm heap.
pub trait ByteSource: Send + Sync {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `len` bytes from `offset` (callers stay within `len()`): borrowed where mapped,
    /// owned where fetched.
    fn read(&self, offset: u64, len: u64) -> Result<Cow<'_, [u8]>, FormatError>;
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read(&self, offset: u64, len: u64) -> Result<Cow<'_, [u8]>, FormatError> {
        slice_of(self, offset, len).map(Cow::Borrowed)
    }
}

/// `bytes[offset..offset + len]`, or an error naming the range.
pub fn slice_of(bytes: &[u8], offset: u64, len: u64) -> Result<&[u8], FormatError> {
    offset
        .checked_add(len)
        .filter(|&end| end <= bytes.len() as u64)
        .map(|end| &bytes[offset as usize..end as usize])
        .ok_or_else(|| FormatError::Truncated(format!("{len} bytes at offset {offset} of a {}-byte file", bytes.len())))
}

pub type Blob = Arc<dyn ByteSource>;

/// Reads a header of unknown size: a prefix that grows (x4) while `parse` says it needs more.
/// The prefix never exceeds the file, so a hostile header costs at most the file's size.
pub(crate) fn parse_prefix<T>(
    src: &dyn ByteSource,
    mut parse: impl FnMut(&[u8], u64) -> Result<T, Incomplete>,
) -> Result<T, FormatError> {
    let total = src.len();
    let mut want = total.min(1 << 20);
    loop {
        let prefix = src.read(0, want)?;
        match parse(&prefix, total) {
            Ok(v) => return Ok(v),
            Err(Incomplete::NeedMore) if want < total => want = total.min(want * 4),
            Err(Incomplete::NeedMore) => return Err(FormatError::Truncated("the header runs past the end of the file".into())),
            Err(Incomplete::Error(e)) => return Err(e),
        }
    }
}

/// A header parse over a prefix: an error, or a request for more bytes.
pub(crate) enum Incomplete {
    NeedMore,
    Error(FormatError),
}

impl From<FormatError> for Incomplete {
    fn from(e: FormatError) -> Self {
        Incomplete::Error(e)
    }
}

/// Which container a model came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Gguf,
    HfSafetensors,
}

/// A loaded weight container: metadata (GGUF keys, or an HF config translated to GGUF keys)
/// and the tensors, named with GGUF's names whatever the source.
pub struct ModelFile {
    pub kind: SourceKind,
    pub metadata: BTreeMap<String, MetaValue>,
    pub tensors: BTreeMap<String, (usize, TensorInfo)>,
    pub blobs: Vec<Blob>,
    /// tokenizer.json text for HF folders (GGUF carries its vocabulary in metadata).
    pub tokenizer_json: Option<String>,
    /// Total bytes of the weight files.
    pub file_bytes: u64,
}

impl ModelFile {
    pub fn from_gguf(blob: Blob) -> Result<ModelFile, FormatError> {
        let header = parse_prefix(blob.as_ref(), gguf::parse_prefix)?;
        let mut tensors = BTreeMap::new();
        for t in header.tensors {
            if tensors.contains_key(&t.name) {
                return Err(FormatError::Invalid(format!("tensor '{}' appears twice", t.name)));
            }
            tensors.insert(t.name.clone(), (0usize, t));
        }
        Ok(ModelFile {
            kind: SourceKind::Gguf,
            metadata: header.metadata,
            tensors,
            file_bytes: blob.len(),
            blobs: vec![blob],
            tokenizer_json: None,
        })
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.get(name).map(|(_, t)| t)
    }

    pub fn require(&self, name: &str) -> Result<&TensorInfo, FormatError> {
        self.tensor(name).ok_or_else(|| FormatError::Missing(format!("tensor '{name}'")))
    }

    /// The raw file bytes of a tensor (bounds were checked when the file was parsed).
    pub fn tensor_bytes(&self, name: &str) -> Result<Cow<'_, [u8]>, FormatError> {
        let (blob, t) = self
            .tensors
            .get(name)
            .ok_or_else(|| FormatError::Missing(format!("tensor '{name}'")))?;
        self.blobs[*blob].read(t.offset, t.size)
    }

    /// A tensor dequantized to f32 on the CPU.
    pub fn tensor_f32(&self, name: &str) -> Result<Vec<f32>, FormatError> {
        let t = self.require(name)?;
        dequant::dequantize(t.dtype, &self.tensor_bytes(name)?, t.elems())
    }

    pub fn meta(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.meta(key).and_then(|v| v.as_str())
    }

    pub fn architecture(&self) -> Result<&str, FormatError> {
        self.meta_str("general.architecture")
            .ok_or_else(|| FormatError::Missing("metadata general.architecture".into()))
    }

    /// Counts of tensors per element type, for `info`.
    pub fn type_histogram(&self) -> BTreeMap<&'static str, usize> {
        let mut h = BTreeMap::new();
        for (_, t) in self.tensors.values() {
            *h.entry(t.dtype.name()).or_insert(0) += 1;
        }
        h
    }
}
