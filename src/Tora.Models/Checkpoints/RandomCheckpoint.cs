using System.Text.Json;
using System.Text.Json.Nodes;
using Tora.Models.Graph;

namespace Tora.Models.Checkpoints;

/// <summary>Named configurations of <c>tora model random</c>.</summary>
public enum RandomConfig
{
    /// <summary>The shapes of the tiny test fixtures (2 blocks, width 32; 64 × 96 video).</summary>
    Tiny,
    /// <summary>The real Tora T2V on CogVideoX-5B with the T5 v1.1 XXL encoder.</summary>
    CogVideoX5B,
}

/// <summary>
/// Writes a diffusers pipeline folder (model_index.json, transformer/, text_encoder/, scheduler/) with
/// random weights under exactly the official tensor names and shapes (<see cref="CheckpointLayout"/>), in
/// the official dtypes (bf16 for the 5B release, f32 for tiny) and sharded like a <c>save_pretrained</c>
/// of that size. For compiler tests and the real-size memory benchmark; the outputs are meaningless.
/// </summary>
public static class RandomCheckpoint
{
    /// <summary>The transformer config of <paramref name="config"/>, with <paramref name="layers"/> blocks instead of all when given.</summary>
    public static ToraTransformerConfig TransformerConfig(RandomConfig config, int? layers = null) =>
        layers is int n ? FullTransformerConfig(config) with { NumLayers = n } : FullTransformerConfig(config);

    private static ToraTransformerConfig FullTransformerConfig(RandomConfig config) => config switch
    {
        RandomConfig.Tiny => new ToraTransformerConfig
        {
            NumAttentionHeads = 2, AttentionHeadDim = 16, TimeEmbedDim = 16, TextEmbedDim = 32, NumLayers = 2,
            SampleHeight = 8, SampleWidth = 12,
        },
        _ => ToraTransformerConfig.CogVideoX5B,
    };

    /// <summary>The text encoder config of <paramref name="config"/>.</summary>
    public static T5EncoderConfig TextEncoderConfig(RandomConfig config) => config switch
    {
        RandomConfig.Tiny => new T5EncoderConfig { VocabSize = 1100, DModel = 32, DKv = 8, DFf = 64, NumLayers = 2, NumHeads = 4 },
        _ => T5EncoderConfig.XXL,
    };

    /// <summary>Writes the folder.</summary>
    /// <param name="config">Which sizes.</param>
    /// <param name="folder">Output folder (created).</param>
    /// <param name="seed">Seed of the values.</param>
    /// <param name="transformerOnly">Write only <c>transformer/</c> and the scheduler config: enough for
    /// <c>tora model build --only transformer</c> (the GPU step benchmark, where 10 GB of T5 and VAE would only cost time).</param>
    /// <param name="layers">Transformer blocks (with their fusers) to write instead of all of them, e.g. 2 of the 42 for a
    /// real-width step on the CPU; null: the configuration's.</param>
    public static void Write(RandomConfig config, string folder, ulong seed, bool transformerOnly = false, int? layers = null)
    {
        if (layers is <= 0) throw new ArgumentOutOfRangeException(nameof(layers), layers, "at least one transformer block");
        var type = config == RandomConfig.Tiny ? ElementType.Float32 : ElementType.BFloat16;
        long shard = config == RandomConfig.Tiny ? long.MaxValue : 5_000_000_000;
        Directory.CreateDirectory(folder);
        var tc = TransformerConfig(config, layers);

        var transformer = Directory.CreateDirectory(Path.Combine(folder, "transformer")).FullName;
        WriteConfig(Path.Combine(transformer, "config.json"), tc, new() { ["_class_name"] = "ToraTransformer3DModel", ["_diffusers_version"] = "0.32.0.dev0" });
        WriteShards(transformer, "diffusion_pytorch_model", CheckpointLayout.ToraTransformer(tc), type, shard, seed);
        if (!transformerOnly) WriteTextEncoderAndVae(config, folder, tc, type, shard, seed);
        if (!transformerOnly && config == RandomConfig.Tiny) WriteTinyTokenizer(folder);

        var scheduler = Directory.CreateDirectory(Path.Combine(folder, "scheduler")).FullName;
        File.WriteAllText(Path.Combine(scheduler, "scheduler_config.json"), SchedulerConfigJson);
        File.WriteAllText(Path.Combine(folder, "model_index.json"), ModelIndexJson);
    }

    /// <summary>
    /// Writes the tiny T5 SentencePiece model (its vocabulary matches the tiny text encoder's 1100 embeddings), so
    /// a tiny random folder builds a package the pipeline can run end to end (the demo model of run.sh). Real-size
    /// folders get no tokenizer: the real one ships with the official checkpoint.
    /// </summary>
    private static void WriteTinyTokenizer(string folder)
    {
        var tokenizer = Directory.CreateDirectory(Path.Combine(folder, "tokenizer")).FullName;
        var assembly = typeof(RandomCheckpoint).Assembly;
        const string prefix = "Tora.Models.TinyTokenizer.";
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var resource = assembly.GetManifestResourceStream(name)!;
            using var file = File.Create(Path.Combine(tokenizer, name[prefix.Length..]));
            resource.CopyTo(file);
        }
    }

    private static void WriteTextEncoderAndVae(RandomConfig config, string folder, ToraTransformerConfig tc, ElementType type, long shard, ulong seed)
    {
        var ec = TextEncoderConfig(config);
        var encoder = Directory.CreateDirectory(Path.Combine(folder, "text_encoder")).FullName;
        WriteConfig(Path.Combine(encoder, "config.json"), ec, new()
        {
            ["architectures"] = new JsonArray("T5EncoderModel"), ["model_type"] = "t5", ["dense_act_fn"] = "gelu_new",
            ["is_gated_act"] = true, ["torch_dtype"] = type == ElementType.Float32 ? "float32" : "bfloat16",
        });
        WriteShards(encoder, "model", CheckpointLayout.T5Encoder(ec), type, shard, seed + 1);

        WriteVaeFolder(config, folder, tc, type, shard, seed);
    }

    /// <summary>Writes only <c>vae/</c> (config and weights, the same values as <see cref="Write"/> gives it): the real-size VAE benchmark.</summary>
    /// <param name="config">Which sizes.</param>
    /// <param name="folder">Output folder (created); the VAE goes to <c>folder/vae</c>.</param>
    /// <param name="seed">Seed of the values.</param>
    public static void WriteVae(RandomConfig config, string folder, ulong seed) =>
        WriteVaeFolder(config, folder, TransformerConfig(config), config == RandomConfig.Tiny ? ElementType.Float32 : ElementType.BFloat16,
            config == RandomConfig.Tiny ? long.MaxValue : 5_000_000_000, seed);

    private static void WriteVaeFolder(RandomConfig config, string folder, ToraTransformerConfig tc, ElementType type, long shard, ulong seed)
    {
        var vc = config == RandomConfig.Tiny ? CogVideoXVaeLayout.Tiny(tc.SampleHeight * 8, tc.SampleWidth * 8) : CogVideoXVaeConfig.CogVideoX5B;
        var vae = Directory.CreateDirectory(Path.Combine(folder, "vae")).FullName;
        WriteConfig(Path.Combine(vae, "config.json"), vc, new() { ["_class_name"] = "AutoencoderKLCogVideoX", ["_diffusers_version"] = "0.32.0.dev0" });
        WriteShards(vae, "diffusion_pytorch_model", CogVideoXVaeLayout.Tensors(vc), type, shard, seed + 2);
    }

    internal static void WriteConfig<T>(string path, T config, JsonObject extra)
    {
        var node = JsonSerializer.SerializeToNode(config)!.AsObject();
        foreach (var (k, v) in extra) node[k] = v?.DeepClone();
        File.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static void WriteShards(string folder, string stem, IReadOnlyList<CheckpointTensor> tensors, ElementType type, long maxShardBytes, ulong seed)
    {
        var shards = new List<List<CheckpointTensor>> { new() };
        long size = 0;
        foreach (var t in tensors)
        {
            long bytes = t.Kind == TensorKind.Counter ? 8 : t.ElementCount * type.Size();
            if (size > 0 && size + bytes > maxShardBytes) { shards.Add([]); size = 0; }
            shards[^1].Add(t);
            size += bytes;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var rng = new SplitMix64(seed);
        for (int s = 0; s < shards.Count; s++)
        {
            string file = shards.Count == 1 ? $"{stem}.safetensors" : $"{stem}-{s + 1:D5}-of-{shards.Count:D5}.safetensors";
            var writer = new SafetensorsWriter();
            foreach (var t in shards[s])
            {
                weightMap[t.Name] = file;
                if (t.Kind == TensorKind.Counter) { writer.AddInt64(t.Name, t.Shape, [1000]); continue; }
                ulong tensorSeed = rng.Next();
                writer.Add(t.Name, type, t.Shape, span => Fill(span, t, tensorSeed));
            }
            writer.Write(Path.Combine(folder, file));
        }
        if (shards.Count > 1)
        {
            long total = tensors.Sum(t => t.Kind == TensorKind.Counter ? 8 : t.ElementCount * type.Size());
            var index = new { metadata = new { total_size = total }, weight_map = weightMap };
            File.WriteAllText(Path.Combine(folder, $"{stem}.safetensors.index.json"), JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
        }
    }

    internal static void Fill(Span<float> values, CheckpointTensor t, ulong seed)
    {
        var rng = new SplitMix64(seed);
        float scale = t.Kind switch
        {
            TensorKind.Weight => 1f / MathF.Sqrt(t.Shape.Skip(1).Aggregate(1L, (a, b) => a * b)),
            TensorKind.Embedding => 1f,
            _ => 0.1f,
        };
        float offset = t.Kind is TensorKind.NormScale or TensorKind.RunningVariance ? 1f : 0f;
        for (int i = 0; i < values.Length; i++)
        {
            float u = rng.NextUniform() * 2f - 1f;
            values[i] = t.Kind == TensorKind.RunningVariance ? offset + 0.1f * MathF.Abs(u) : offset + scale * u;
        }
    }

    internal struct SplitMix64(ulong state)
    {
        private ulong _state = state;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public float NextUniform() => (Next() >> 40) * (1f / (1 << 24));
    }

    /// <summary>The official CogVideoX-5B scheduler config (v-prediction, trailing, zero-terminal-SNR).</summary>
    private const string SchedulerConfigJson = """
        {
          "_class_name": "CogVideoXDDIMScheduler",
          "_diffusers_version": "0.32.0.dev0",
          "beta_end": 0.012,
          "beta_schedule": "scaled_linear",
          "beta_start": 0.00085,
          "clip_sample": false,
          "clip_sample_range": 1.0,
          "num_train_timesteps": 1000,
          "prediction_type": "v_prediction",
          "rescale_betas_zero_snr": true,
          "sample_max_value": 1.0,
          "set_alpha_to_one": true,
          "snr_shift_scale": 1.0,
          "steps_offset": 0,
          "timestep_spacing": "trailing",
          "trained_betas": null
        }
        """;

    private const string ModelIndexJson = """
        {
          "_class_name": "ToraPipeline",
          "_diffusers_version": "0.32.0.dev0",
          "scheduler": ["diffusers", "CogVideoXDDIMScheduler"],
          "text_encoder": ["transformers", "T5EncoderModel"],
          "tokenizer": ["transformers", "T5Tokenizer"],
          "transformer": ["tora.transformer_3d", "ToraTransformer3DModel"],
          "vae": ["diffusers", "AutoencoderKLCogVideoX"]
        }
        """;
}
