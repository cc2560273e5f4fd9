//! What differs between native and the browser, in one place: reading model files.
//! Natively files are memory-mapped; in the browser the page hands the engine bytes.

use crate::formats::Blob;
use std::sync::Arc;

/// Wraps in-memory bytes (browser downloads, tests) as a blob.
pub fn blob_from_vec(bytes: Vec<u8>) -> Blob {
    Arc::new(bytes)
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use crate::formats::{slice_of, ByteSource, FormatError, ModelFile};
    use std::borrow::Cow;
    use std::path::Path;

    fn io_err(path: &Path, e: impl std::fmt::Display) -> FormatError {
        FormatError::Io { path: path.display().to_string(), message: e.to_string() }
    }

    struct Mapped(memmap2::Mmap);
    impl ByteSource for Mapped {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
        fn read(&self, offset: u64, len: u64) -> Result<Cow<'_, [u8]>, FormatError> {
            slice_of(&self.0, offset, len).map(Cow::Borrowed)
        }
    }

    pub fn map_file(path: &Path) -> Result<Blob, FormatError> {
        let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
        // Safety: the file is opened read-only; a concurrent truncation by another process is
        // outside what the engine can defend against (as for every mmap-based loader).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io_err(path, e))?;
        Ok(Arc::new(Mapped(map)))
    }

    /// Opens a GGUF file or an HF folder (config.json + *.safetensors + tokenizer.json).
    pub fn open_model(path: &Path) -> Result<ModelFile, FormatError> {
        if path.is_dir() {
            let read = |name: &str| std::fs::read_to_string(path.join(name));
            let config = read("config.json").map_err(|e| io_err(&path.join("config.json"), e))?;
            let tokenizer = read("tokenizer.json").ok();
            let tokenizer_config = read("tokenizer_config.json").ok();
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| io_err(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(FormatError::Missing(format!("*.safetensors files in {}", path.display())));
            }
            let blobs = files.iter().map(|p| map_file(p)).collect::<Result<Vec<_>, _>>()?;
            ModelFile::from_hf_parts(&config, tokenizer, tokenizer_config.as_deref(), blobs)
        } else {
            ModelFile::from_gguf(map_file(path)?)
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{map_file, open_model};
