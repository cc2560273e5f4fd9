//! Weights read from a browser `Blob` (a picked file, or a download kept in the Cache API) one
//! range at a time with `FileReaderSync`, so the wasm heap holds one tensor, never the model.
//! `FileReaderSync` exists only in workers: the engine runs in one.

use cospec::formats::{ByteSource, FormatError};
use std::borrow::Cow;
use web_sys::{Blob, FileReaderSync};

pub struct BlobSource {
    blob: Blob,
    name: String,
}

// wasm32 without threads: every JS object lives on the one thread that runs the engine.
unsafe impl Send for BlobSource {}
unsafe impl Sync for BlobSource {}

impl BlobSource {
    pub fn new(blob: Blob, name: &str) -> BlobSource {
        BlobSource { blob, name: name.to_string() }
    }

    fn error(&self, e: impl std::fmt::Debug) -> FormatError {
        FormatError::Io { path: self.name.clone(), message: format!("{e:?}") }
    }

    pub fn text(&self) -> Result<String, FormatError> {
        FileReaderSync::new().and_then(|r| r.read_as_text(&self.blob)).map_err(|e| self.error(e))
    }
}

impl ByteSource for BlobSource {
    fn len(&self) -> u64 {
        self.blob.size() as u64
    }

    fn read(&self, offset: u64, len: u64) -> Result<Cow<'_, [u8]>, FormatError> {
        if offset.checked_add(len).is_none_or(|end| end > self.len()) {
            return Err(FormatError::Truncated(format!("{len} bytes at {offset} of {} ({} bytes)", self.name, self.len())));
        }
        let part = self.blob.slice_with_f64_and_f64(offset as f64, (offset + len) as f64).map_err(|e| self.error(e))?;
        let buffer = FileReaderSync::new().and_then(|r| r.read_as_array_buffer(&part)).map_err(|e| self.error(e))?;
        Ok(Cow::Owned(js_sys::Uint8Array::new(&buffer).to_vec()))
    }
}
