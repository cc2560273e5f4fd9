//! `cospec`: run, inspect and benchmark models on any wgpu backend.

mod bench;
mod bench_depth;
mod bench_spd;
mod commands;
mod eval;
mod serve;
mod speculative;
mod template_process;
mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "cospec", version, about = "Portable WebGPU LLM engine with collaborative speculative decoding")]
struct Cli {
    /// GPU backend: vulkan, metal, dx12 or gl (default: the best one present)
    #[arg(long, global = true)]
    backend: Option<String>,
    /// Use the adapter whose name contains this text (see `cospec adapters`)
    #[arg(long, global = true)]
    adapter: Option<String>,
    /// Force a matrix-product shape: cooperative, rows or rows-subgroup (default: picked from
    /// the adapter; for measurements)
    #[arg(long, global = true)]
    matmul: Option<String>,
    /// Force where weights live: buffer or texture (default: textures on CPU adapters, where
    /// texel fetches are cheaper than storage loads; buffers on GPUs; for measurements)
    #[arg(long, global = true, env = "COSPEC_WEIGHTS")]
    weights: Option<String>,
    /// The cooperative (GPU) product's shape WG,RPW,TM instead of the default, to tune a new
    /// GPU: workgroup size, rows a workgroup, tokens a register tile
    #[arg(long, global = true, env = "COSPEC_COOP_SHAPE")]
    coop_shape: Option<String>,
    /// The cooperative product's wide token tile for long launches, TM,MIN[,RPI] or off
    /// (default off: whether it pays is measured per GPU)
    #[arg(long, global = true, env = "COSPEC_COOP_WIDE")]
    coop_wide: Option<String>,
    /// Fault injection for tests: destroy the GPU device just before the Nth read-back
    #[arg(long, global = true, hide = true, env = "COSPEC_LOSE_DEVICE_AT")]
    lose_device_at: Option<u64>,
    /// KV cache element type: f16 (half the memory and the bytes each token reads) or f32
    /// (default: f16 on GPUs, f32 on CPU adapters, where it is faster)
    #[arg(long, global = true)]
    kv_type: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
pub struct SamplingArgs {
    /// 0 decodes greedily
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Keep the K most likely tokens (0: all)
    #[arg(long, default_value_t = 0)]
    top_k: u32,
    /// Keep the smallest set of tokens whose probability reaches P
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Generate text from a prompt, streaming it, then print prompt and decode speed. With
    /// --draft and --target: speculative decoding, tokens coloured by origin on a terminal
    Run {
        /// A GGUF file or an HF folder (config.json + *.safetensors + tokenizer.json)
        #[arg(long, required_unless_present = "target", conflicts_with = "target")]
        model: Option<PathBuf>,
        /// Draft model of a speculative pair (same tokenizer as the target)
        #[arg(long, requires = "target")]
        draft: Option<PathBuf>,
        /// Target model of a speculative pair
        #[arg(long)]
        target: Option<PathBuf>,
        /// With a pair: target-only, draft-only, spd (lossless) or cospec (arbiter at mismatches)
        #[arg(long, default_value = "spd")]
        mode: String,
        /// Draft tokens per step (1..=16)
        #[arg(short = 'k', long = "k", default_value_t = 4)]
        k: usize,
        #[command(flatten)]
        arbiter: speculative::ArbiterArgs,
        /// Print one JSON object (text, tokens, origins, statistics, mismatch features)
        #[arg(long)]
        json: bool,
        #[arg(long)]
        prompt: String,
        /// Wrap the prompt in the model's chat template as a user turn
        #[arg(long)]
        chat: bool,
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        /// KV-cache capacity in tokens (0: the model's, at most 4096)
        #[arg(long, default_value_t = 0)]
        ctx: usize,
        #[command(flatten)]
        sampling: SamplingArgs,
    },
    /// Print a model's architecture, tensor types, size and the adapter that would run it
    Info {
        #[arg(long)]
        model: PathBuf,
    },
    /// Measure prompt-processing and decode tokens per second
    Bench {
        #[arg(long)]
        model: PathBuf,
        /// Prompt tokens
        #[arg(long, default_value_t = 128)]
        prompt_tokens: usize,
        /// Decoded tokens
        #[arg(long, default_value_t = 64)]
        gen_tokens: usize,
        /// Repetitions (the median is reported)
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Also decode this many sequences side by side (one block of N tokens per step, each
        /// sequence in its own cache region) and report their total tok/s, e.g. 4,8
        #[arg(long, value_delimiter = ',')]
        sequences: Vec<usize>,
        /// Also time whole blocks of these many tokens (a verify pass: every position's
        /// logits) and report each against a 1-token pass, e.g. 1,2,4,5,8
        #[arg(long, value_delimiter = ',')]
        blocks: Vec<usize>,
        /// Instead: prompt tok/s of an N-token prompt and decode tok/s (--gen-tokens) after it,
        /// for each N, e.g. 512,4096 (llama-bench's -p and -d)
        #[arg(long, value_delimiter = ',')]
        depth: Vec<usize>,
        /// Print one JSON line instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Teacher-force token ids (a JSON array) through the model and print each position's
    /// top-1 next token as JSON, for agreement checks with other engines
    Score {
        #[arg(long)]
        model: PathBuf,
        /// File holding a JSON array of token ids
        #[arg(long)]
        tokens: PathBuf,
    },
    /// Target-only against speculative decoding on the same prompts, side by side, with the
    /// draft, target and verify pass costs behind the ratio
    BenchSpd {
        #[arg(long)]
        draft: std::path::PathBuf,
        #[arg(long)]
        target: std::path::PathBuf,
        /// A JSON array of prompt strings, or one prompt per line (each sent as a chat turn)
        #[arg(long)]
        prompts: std::path::PathBuf,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long, default_value_t = 256)]
        max_tokens: usize,
        /// Draft lengths to measure
        #[arg(long, value_delimiter = ',', default_value = "2,4,6")]
        ks: Vec<usize>,
        /// spd, or cospec with --policy
        #[arg(long, default_value = "spd")]
        mode: String,
        #[command(flatten)]
        arbiter: speculative::ArbiterArgs,
        #[arg(long)]
        json: bool,
    },
    /// Every mode on the same math problems: accuracy (95% CI), tok/s, speed-up, tokens per
    /// target pass, mismatches, keeps, flips vs target-only (McNemar) and a plot; resumable
    Eval {
        #[command(flatten)]
        args: eval::EvalArgs,
        #[command(flatten)]
        arbiter: speculative::ArbiterArgs,
    },
    /// Train the learned arbiter: on-policy rounds of branch rollouts at mismatches (appended
    /// to a rollouts file, so collection resumes) and policy-gradient updates of the MLP
    TrainArbiter(train::TrainArgs),
    /// An OpenAI-compatible HTTP server (chat and text completions, streaming, metrics):
    /// target-only requests decode side by side, speculative ones through the draft
    Serve(serve::ServeArgs),
    /// List the GPU adapters wgpu can see
    Adapters,
}

fn main() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // Silences Mesa's harmless warning on machines without a session.
        std::env::set_var("XDG_RUNTIME_DIR", "/tmp");
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == template_process::CHILD_ARG) {
        template_process::child_main();
    }
    // Where the operating system can bound a child's memory, a model file's chat template
    // renders in one (template_process.rs); elsewhere in-process, bounded in steps and output.
    if cfg!(unix) {
        cospec::chat_template::isolate_file_templates(template_process::render_in_child);
    }
    let cli = Cli::parse();
    let matmul = match cli.matmul.as_deref().map(cospec::gpu::ShapeFamily::from_name).transpose() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let weights = match cli.weights.as_deref() {
        None => None,
        Some(name) => match cospec::gpu::weight::WeightStore::from_name(name) {
            Some(w) => Some(w),
            None => {
                eprintln!("error: --weights {name:?}: one of {}", cospec::gpu::weight::WeightStore::NAMES.join(", "));
                std::process::exit(2);
            }
        },
    };
    match cli.kv_type.as_deref().map(|n| (n, cospec::model::KvType::from_name(n))) {
        None => commands::set_kv_type(None),
        Some((_, Some(t))) => commands::set_kv_type(Some(t)),
        Some((name, None)) => {
            eprintln!("error: --kv-type {name:?}: one of {}", cospec::model::KvType::NAMES.join(", "));
            std::process::exit(2);
        }
    }
    let cooperative_shape = match cli.coop_shape.as_deref().map(cospec::ops::matmul::parse_cooperative_shape).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --coop-shape: {e}");
            std::process::exit(2);
        }
    };
    let wide_tile = match cli.coop_wide.as_deref().map(cospec::ops::matmul::parse_wide_tile).transpose() {
        Ok(w) => w.flatten(),
        Err(e) => {
            eprintln!("error: --coop-wide: {e}");
            std::process::exit(2);
        }
    };
    let gpu = cospec::gpu::GpuOptions {
        backend: cli.backend.clone(),
        adapter_name: cli.adapter.clone(),
        matmul,
        weights,
        cooperative_shape,
        wide_tile,
        lose_device_at_read_back: cli.lose_device_at,
        ..Default::default()
    };
    let result = match cli.command {
        Command::Run { model, draft, target, mode, k, arbiter, json, prompt, chat, max_tokens, ctx, sampling } => {
            match (model, target) {
                (Some(model), None) => commands::run(&gpu, &model, &prompt, chat, max_tokens, ctx, &sampling),
                (None, Some(target)) => {
                    // Without a draft, the target is its own draft (useful to check losslessness).
                    let draft = draft.unwrap_or_else(|| target.clone());
                    speculative::run(&gpu, &draft, &target, &mode, k, &arbiter, &prompt, chat, max_tokens, ctx, &sampling, json)
                }
                _ => Err(anyhow::anyhow!("give --model, or --target with --draft")),
            }
        }
        Command::Info { model } => commands::info(&gpu, &model),
        Command::Bench { model, depth, gen_tokens, reps, json, .. } if !depth.is_empty() => {
            bench_depth::bench_depth(&gpu, &model, &depth, gen_tokens, reps, json)
        }
        Command::Bench { model, prompt_tokens, gen_tokens, reps, sequences, blocks, json, .. } => {
            bench::bench(&gpu, &model, bench::BenchSpec { prompt_tokens, gen_tokens, reps, sequences: &sequences, blocks: &blocks }, json)
        }
        Command::Score { model, tokens } => commands::score(&gpu, &model, &tokens),
        Command::BenchSpd { draft, target, prompts, limit, max_tokens, ks, mode, arbiter, json } => {
            bench_spd::bench_spd(&gpu, &draft, &target, &prompts, limit, max_tokens, &ks, &mode, &arbiter, json)
        }
        Command::Eval { args, arbiter } => eval::eval(&gpu, &args, &arbiter),
        Command::TrainArbiter(args) => train::train_arbiter(&gpu, &args),
        Command::Serve(args) => serve::serve(&gpu, &args),
        Command::Adapters => commands::adapters(&gpu),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
