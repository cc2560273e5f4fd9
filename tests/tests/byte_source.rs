//! Weight files read by range (the browser's path): a GGUF header bigger than the first read
//! is found by growing the prefix, every read stays inside the file, and a model loaded through
//! a counting source gives the same logits as one loaded from memory, reading each tensor once.

use cospec::formats::gguf::{write, MetaValue};
use cospec::formats::{ByteSource, DType, FormatError, ModelFile};
use cospec::model::{LoadOptions, LogitsRows, Model};
use cospec::platform::blob_from_vec;
use cospec_tests::gpu;
use cospec_tests::tiny::{tiny_gguf, tiny_llama};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

/// Hands out owned copies (as a browser Blob does) and records every read.
struct Counting {
    bytes: Vec<u8>,
    reads: Mutex<Vec<(u64, u64)>>,
}

impl ByteSource for Counting {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read(&self, offset: u64, len: u64) -> Result<Cow<'_, [u8]>, FormatError> {
        assert!(offset + len <= self.bytes.len() as u64, "read {len} at {offset} past the end");
        self.reads.lock().unwrap().push((offset, len));
        Ok(Cow::Owned(self.bytes[offset as usize..(offset + len) as usize].to_vec()))
    }
}

fn counting(bytes: Vec<u8>) -> Arc<Counting> {
    Arc::new(Counting { bytes, reads: Mutex::new(Vec::new()) })
}

#[test]
fn a_header_larger_than_the_first_read_is_parsed() {
    // 3 MiB of metadata: the first 1 MiB prefix is too short, twice.
    let big = "x".repeat(3 << 20);
    let data: Vec<u8> = (0..64u32).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let bytes = write(
        &[("general.architecture".into(), MetaValue::Str("llama".into())), ("note".into(), MetaValue::Str(big.clone()))],
        &[("t".into(), DType::F32, vec![64], data.clone())],
    );
    let src = counting(bytes);
    let f = ModelFile::from_gguf(src.clone()).unwrap();
    assert_eq!(f.meta_str("note").map(str::len), Some(big.len()));
    assert_eq!(&*f.tensor_bytes("t").unwrap(), &data[..]);
    let reads = src.reads.lock().unwrap().clone();
    assert!(reads.len() >= 3, "the prefix grew: {reads:?}");
}

#[test]
fn a_truncated_header_read_by_range_is_an_error() {
    let full = tiny_gguf(&tiny_llama(3));
    for cut in [3, 20, 500, 5000] {
        let e = ModelFile::from_gguf(counting(full[..cut].to_vec())).err().expect("a cut header is refused").to_string();
        assert!(e.contains("truncated") || e.contains("cannot fit"), "cut {cut}: {e}");
    }
}

#[test]
fn a_model_loaded_by_range_matches_one_loaded_from_memory() {
    let bytes = tiny_gguf(&tiny_llama(5));
    let src = counting(bytes.clone());
    let by_range = ModelFile::from_gguf(src.clone()).unwrap();
    let header_reads = src.reads.lock().unwrap().len();
    let in_memory = ModelFile::from_gguf(blob_from_vec(bytes.clone())).unwrap();
    let g = gpu();
    let opts = LoadOptions { ctx_len: 64, max_block: 8, ..Default::default() };
    let mut a = Model::load(g.clone(), &by_range, &opts, &mut |_, _| {}).unwrap();
    let mut b = Model::load(g, &in_memory, &opts, &mut |_, _| {}).unwrap();
    let prompt = [1u32, 7, 42, 100, 3];
    let la = pollster::block_on(a.forward(&prompt, LogitsRows::All)).unwrap();
    let lb = pollster::block_on(b.forward(&prompt, LogitsRows::All)).unwrap();
    assert_eq!(la, lb);
    // After the header, reads are tensors: none larger than the largest tensor, each once.
    let reads = src.reads.lock().unwrap()[header_reads..].to_vec();
    let largest = by_range.tensors.values().map(|(_, t)| t.size).max().unwrap();
    assert!(reads.iter().all(|&(_, len)| len <= largest), "{reads:?}");
    let mut offsets: Vec<u64> = reads.iter().map(|r| r.0).collect();
    offsets.sort();
    offsets.dedup();
    assert_eq!(offsets.len(), reads.len(), "a tensor was read twice");
    assert_eq!(reads.len(), by_range.tensors.len());
}
