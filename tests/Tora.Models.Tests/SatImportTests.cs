using Tora.Cli;
using Tora.Motion.IO;
using Tora.Inference.Package;
using Tora.Models.Checkpoints;
using Tora.Models.Checkpoints.Sat;
using Tora.Models.Package;
using Tora.TestSupport;
using static Tora.Models.Tests.SatTestFolders;

namespace Tora.Models.Tests;

/// <summary>Importing the original SAT checkpoints (issue 12) against the tiny-tora-sat fixtures.</summary>
public sealed class SatImportTests
{
    private static Dictionary<string, Onnx.TensorProto> Initializers(string package, string component) =>
        Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(package, component + ".onnx"))).Graph.Initializer.ToDictionary(t => t.Name);

    private static void AssertSameInitializers(string expectedPackage, string actualPackage)
    {
        foreach (var component in new[] { PackageBuilder.TextEncoder, PackageBuilder.TrajectoryEncoderComponent, PackageBuilder.Transformer,
                     PackageBuilder.VaeEncoderComponent, PackageBuilder.VaeDecoderComponent })
        {
            var expected = Initializers(expectedPackage, component);
            var actual = Initializers(actualPackage, component);
            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
            foreach (var (name, e) in expected)
            {
                var a = actual[name];
                Assert.True(e.Dims.SequenceEqual(a.Dims) && e.RawData.Equals(a.RawData) && e.FloatData.SequenceEqual(a.FloatData)
                    && e.Int64Data.SequenceEqual(a.Int64Data), $"{component}: initializer '{name}' differs");
            }
        }
    }

    /// <summary>tiny-tora-i2v as a pipeline folder: its transformer with tiny-tora-t2v's other components.</summary>
    private static string DiffusersI2V()
    {
        var root = Path.Combine(TestData.TempFolder(), "i2v");
        foreach (var dir in new[] { "text_encoder", "tokenizer", "vae", "scheduler" })
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
            foreach (var f in Directory.GetFiles(TestData.Path("fixtures/tiny-tora-t2v/" + dir))) File.Copy(f, Path.Combine(root, dir, Path.GetFileName(f)));
        }
        Directory.CreateDirectory(Path.Combine(root, "transformer"));
        foreach (var f in Directory.GetFiles(TestData.Path("fixtures/tiny-tora-i2v/transformer"))) File.Copy(f, Path.Combine(root, "transformer", Path.GetFileName(f)));
        return root;
    }

    private static ModelManifest BuildSat(string ckpts, string variant, string output)
    {
        using var source = SatPipelineSource.Open(ckpts, TinyOptions(variant));
        return PackageBuilder.Build(source, output, Precision.Fp32);
    }

    [Fact]
    public void Float32_t2v_package_equals_the_diffusers_package_and_reproduces_the_reference()
    {
        var root = TestData.TempFolder();
        var fromDiffusers = Path.Combine(root, "diffusers");
        PackageBuilder.Build(TestData.Path("fixtures/tiny-tora-t2v"), fromDiffusers, Precision.Fp32);
        var fromSat = Path.Combine(root, "sat");
        var manifest = BuildSat(Ckpts(Sat("fp32/t2v/mp_rank_00_model_states.pt")), "t2v", fromSat);

        AssertSameInitializers(fromDiffusers, fromSat);
        // The one numerical SAT difference in the graphs: the output LayerNorm's eps (docs/model.md §4.2, §9.14).
        static List<float> Eps(string package) => Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(package, "transformer.onnx"))).Graph.Node
            .Where(n => n.OpType == "LayerNormalization").Select(n => n.Attribute.Single(a => a.Name == "epsilon").F).ToList();
        var (diffusersEps, satEps) = (Eps(fromDiffusers), Eps(fromSat));
        Assert.Equal(diffusersEps.Count, satEps.Count);
        var differing = Enumerable.Range(0, satEps.Count).Where(i => diffusersEps[i] != satEps[i]).ToList();
        Assert.Equal([1e-5f, 1e-6f], differing.SelectMany(i => new[] { diffusersEps[i], satEps[i] }));
        Assert.Equal(("tora-t2v", "sat", "t2v"), (manifest.ModelType, manifest.Source.Layout, manifest.Source.Variant));
        Assert.Equal(new SourceSemantics("sat", 1e-6, null, "zeros"), manifest.Source.Semantics);
        Assert.Equal(new PackageGeometry(49, 64, 96, 13, 8, 12, 16, 2, 312), manifest.Geometry);
        Assert.Equal(new VaeInfo(0.7, 4, 8, 16), manifest.Vae);
        var scheduler = ModelManifest.Read(fromDiffusers).SchedulerConfig;
        foreach (var p in manifest.SchedulerConfig.EnumerateObject())
            Assert.True(System.Text.Json.JsonElement.DeepEquals(p.Value, scheduler.GetProperty(p.Name)), p.Name);
        Assert.Equal(scheduler.EnumerateObject().Count() - 1, manifest.SchedulerConfig.EnumerateObject().Count()); // all but _diffusers_version
        Assert.Contains(manifest.Source.Files, f => f.Path == "tora/t2v/mp_rank_00_model_states.pt" && f.Sha256.Length == 64);
        Assert.Contains(manifest.Source.Files, f => f.Path == "t5-v1_1-xxl/spiece.model");
        Assert.True(File.Exists(Path.Combine(fromSat, "tokenizer", "spiece.model")));

        // The SAT output norm eps (1e-6 vs 1e-5) moves noise_pred by far less than the fixture's 1e-4 tolerance.
        var reference = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/transformer_t2v.npz"));
        using var encoder = new OrtRunner(Path.Combine(fromSat, manifest.Components[PackageBuilder.TrajectoryEncoderComponent].File));
        var mgf = encoder.Run(new Dictionary<string, NpyArray> { ["video_flow"] = reference["video_flow"] },
            manifest.Components[PackageBuilder.TrajectoryEncoderComponent].Outputs.Select(o => o.Name).ToArray());
        var inputs = new Dictionary<string, NpyArray>(mgf)
        {
            ["hidden_states"] = reference["hidden_states"],
            ["encoder_hidden_states"] = reference["encoder_hidden_states"],
            ["timestep"] = reference["timestep_500"],
            ["rope_cos"] = reference["rope_cos"],
            ["rope_sin"] = reference["rope_sin"],
        };
        using var runner = new OrtRunner(Path.Combine(fromSat, manifest.Components[PackageBuilder.Transformer].File));
        var pred = runner.Run(inputs, "noise_pred")["noise_pred"];
        Assert.True(OrtRunner.MaxAbsDiff(pred, reference["noise_pred_t500"]) <= 1e-4f);
    }

    [Fact]
    public void Float32_i2v_package_equals_the_diffusers_i2v_package()
    {
        var root = TestData.TempFolder();
        var fromDiffusers = Path.Combine(root, "diffusers");
        PackageBuilder.Build(DiffusersI2V(), fromDiffusers, Precision.Fp32);
        var fromSat = Path.Combine(root, "sat");
        var manifest = BuildSat(Ckpts(Sat("fp32/i2v/mp_rank_00_model_states.pt"), "i2v"), "i2v", fromSat);
        AssertSameInitializers(fromDiffusers, fromSat);
        Assert.Equal(("tora-i2v", 32), (manifest.ModelType, manifest.Transformer.InChannels));
        Assert.StartsWith("sat:", manifest.Source.Semantics!.ImageConditioning);
    }

    [Fact]
    public void The_output_norm_eps_is_the_only_graph_difference_and_comes_from_the_config()
    {
        var c = new ToraTransformerConfig();
        Assert.Null(c.OutputNormEps);
        using var source = SatPipelineSource.Open(Ckpts(Sat("fp32/t2v/mp_rank_00_model_states.pt")), TinyOptions("t2v"));
        Assert.Equal((1e-5, 1e-6), (source.Transformer.NormEps, source.Transformer.OutputNormEps));
        var diffusers = ToraTransformerConfig.Load(TestData.Path("fixtures/tiny-tora-t2v/transformer/config.json"));
        Assert.Equal(diffusers with { OutputNormEps = 1e-6 }, source.Transformer);
    }

    [Theory]
    [InlineData("t2v", "fixtures/tiny-tora-t2v/transformer")]
    [InlineData("i2v", "fixtures/tiny-tora-i2v/transformer")]
    public void Bf16_files_hold_exactly_the_bf16_rounding_of_the_diffusers_weights(string variant, string diffusersTransformer)
    {
        using var source = SatPipelineSource.Open(Ckpts(Sat($"{variant}/mp_rank_00_model_states.pt"), variant), TinyOptions(variant));
        var pairs = new (Checkpoint Sat, Checkpoint Diffusers)[]
        {
            (source.OpenTransformer(), Checkpoint.Open(TestData.Path(diffusersTransformer))),
            (source.OpenTextEncoder(), Checkpoint.Open(TestData.Path("fixtures/tiny-tora-t2v/text_encoder"))),
            (source.OpenVae(), Checkpoint.Open(TestData.Path("fixtures/tiny-tora-t2v/vae"))),
        };
        int compared = 0;
        foreach (var (sat, diffusers) in pairs)
        {
            using (sat)
            using (diffusers)
            {
                foreach (var name in diffusers.Names)
                {
                    var entry = diffusers.Entry(name);
                    if (entry.DType == "I64") { sat.Ignore(name); continue; }
                    var expected = new float[entry.ElementCount];
                    diffusers.Tensor(name, entry.Shape).ReadFloats(expected);
                    var actual = new float[entry.ElementCount];
                    sat.Tensor(name, entry.Shape).ReadFloats(actual);
                    for (int i = 0; i < expected.Length; i++)
                    {
                        uint b = BitConverter.SingleToUInt32Bits(expected[i]);
                        b += 0x7FFF + ((b >> 16) & 1);
                        float rounded = BitConverter.UInt32BitsToSingle(b & 0xFFFF0000);
                        if (BitConverter.SingleToUInt32Bits(rounded) != BitConverter.SingleToUInt32Bits(actual[i]))
                            Assert.Fail($"{name}[{i}]: {actual[i]} is not bf16({expected[i]}) = {rounded}");
                    }
                    compared++;
                }
                sat.EnsureAllUsed();
            }
        }
        Assert.True(compared > 500);
    }

    [Fact]
    public void The_separate_3d_vae_file_maps_onto_the_diffusers_vae_and_drops_the_discriminator()
    {
        using var file = TorchCheckpointFile.Open(Sat("vae/3d-vae.pt"));
        Assert.Equal("state_dict", file.StateDictKey);
        Assert.Equal(15, file.Tensors.Keys.Count(k => k.StartsWith("loss.", StringComparison.Ordinal)));
        var mapped = SatMapping.Vae(file, "")!;
        using var diffusers = Checkpoint.Open(TestData.Path("fixtures/tiny-tora-t2v/vae"));
        Assert.Equal(diffusers.Names.Order(StringComparer.Ordinal), mapped.Keys.Order(StringComparer.Ordinal));
        foreach (var name in new[] { "decoder.up_blocks.0.resnets.0.conv1.conv.weight", "decoder.up_blocks.3.resnets.2.norm1.conv_y.conv.bias", "encoder.mid_block.resnets.1.norm2.weight" })
        {
            var e = diffusers.Entry(name);
            var expected = new float[e.ElementCount];
            diffusers.Tensor(name, e.Shape).ReadFloats(expected);
            var actual = new float[e.ElementCount];
            mapped[name].Open().ReadFloats(actual);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Shared_storages_resolve_to_views_at_their_offsets()
    {
        using var file = TorchCheckpointFile.Open(Sat("fp32/t2v/mp_rank_00_model_states.pt"));
        var shared = file.Tensors["conditioner.embedders.0.transformer.shared.weight"];
        var tied = file.Tensors["conditioner.embedders.0.transformer.encoder.embed_tokens.weight"];
        Assert.Equal((shared.StorageKey, shared.ElementOffset), (tied.StorageKey, tied.ElementOffset));
        var fuser = file.Tensors.Where(kv => kv.Key.Contains(".fuser_list.", StringComparison.Ordinal)).Select(kv => kv.Value).ToList();
        Assert.True(fuser.Select(t => t.StorageKey).Distinct().Count() == 1 && fuser.Select(t => t.ElementOffset).Distinct().Count() == fuser.Count);
    }

    [Fact]
    public void A_forbidden_pickle_global_is_refused_by_name()
    {
        var path = Path.Combine(TestData.TempFolder(), "evil.pt");
        WriteEngine(path, [("model.diffusion_model.time_embed.0.bias", [2], [1f, 2f])], extraGlobal: "posix.system");
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpointFile.Open(path));
        Assert.Contains("refusing pickle global 'posix.system'", e.Message);
        WriteEngine(path = Path.Combine(TestData.TempFolder(), "bytes.pt"), [], extraGlobal: "torch.storage._load_from_bytes");
        Assert.Contains("'torch.storage._load_from_bytes'", Assert.Throws<InvalidDataException>(() => TorchCheckpointFile.Open(path)).Message);
    }

    [Fact]
    public void A_file_written_like_torch_save_reads_back()
    {
        var path = Path.Combine(TestData.TempFolder(), "ok.pt");
        WriteEngine(path, [("a", [2, 3], [1, 2, 3, 4, 5, 6]), ("b", [], [7])]);
        using var f = TorchCheckpointFile.Open(path);
        var values = new float[6];
        f.ReadFloats(f.Tensors["a"], 0, values);
        Assert.Equal([1f, 2, 3, 4, 5, 6], values);
        Assert.Empty(f.Tensors["b"].Shape);
    }

    [Fact]
    public void Views_at_offsets_read_their_elements_and_non_contiguous_views_are_refused()
    {
        var path = Path.Combine(TestData.TempFolder(), "views.pt");
        var writer = new TorchCheckpointWriter();
        writer.Add("flat", Tora.Models.Graph.ElementType.BFloat16, [8], span => { for (int i = 0; i < span.Length; i++) span[i] = i; });
        writer.AddView("tail", "flat", 5, [3], [1]);
        writer.AddView("square", "flat", 2, [2, 2], [2, 1]);
        writer.Write(path, "module");
        using (var f = TorchCheckpointFile.Open(path))
        {
            var tail = new float[3];
            f.ReadFloats(f.Tensors["tail"], 0, tail);
            Assert.Equal([5f, 6, 7], tail);
            var square = new float[4];
            f.ReadFloats(f.Tensors["square"], 0, square);
            Assert.Equal([2f, 3, 4, 5], square);
        }
        writer.AddView("transposed", "flat", 0, [2, 2], [1, 2]);
        writer.Write(path, "module");
        Assert.Contains("tensor 'transposed' is a non-contiguous view (size [2, 2], stride [1, 2])", Assert.Throws<InvalidDataException>(() => TorchCheckpointFile.Open(path)).Message);

        var beyond = new TorchCheckpointWriter();
        beyond.Add("flat", Tora.Models.Graph.ElementType.Float32, [8], span => span.Clear());
        beyond.AddView("beyond", "flat", 6, [3], [1]);
        beyond.Write(path, "module");
        Assert.Contains("tensor 'beyond' needs storage elements up to 9 but storage '0' has 8", Assert.Throws<InvalidDataException>(() => TorchCheckpointFile.Open(path)).Message);
    }

    [Fact]
    public async Task The_cli_detects_the_sat_layout_and_reports_broken_checkpoints_in_one_line()
    {
        var engine = Sat("fp32/t2v/mp_rank_00_model_states.pt");
        var good = Ckpts(engine);
        var package = Path.Combine(TestData.TempFolder(), "package");
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "build", "--from", good, "--out", package, "--sat-config", TinyYaml("t2v"), "--vae-norm-groups", "2"]));
        Assert.Equal("sat", ModelManifest.Read(package).Source.Layout);

        var tensors = ReadAll(engine);
        var cases = new List<(string Folder, string Expected)>();
        var truncated = Ckpts(engine);
        var truncatedFile = Path.Combine(truncated, "tora", "t2v", SatPipelineSource.EngineFile);
        var bytes = File.ReadAllBytes(truncatedFile);
        File.WriteAllBytes(truncatedFile, bytes[..(bytes.Length / 2)]);
        cases.Add((truncated, "truncated"));

        var wrongShape = Ckpts(engine);
        WriteEngine(Path.Combine(wrongShape, "tora", "t2v", SatPipelineSource.EngineFile),
            tensors.Select(t => t.Name.EndsWith("mixins.final_layer.adaLN_modulation.1.bias", StringComparison.Ordinal) ? (t.Name, [t.Shape[0] / 2], t.Values[..(t.Values.Length / 2)]) : t));
        cases.Add((wrongShape, "tensor 'model.diffusion_model.mixins.final_layer.adaLN_modulation.1.bias' has shape [32], expected [64]"));

        var missing = Ckpts(engine);
        WriteEngine(Path.Combine(missing, "tora", "t2v", SatPipelineSource.EngineFile), tensors.Where(t => !t.Name.EndsWith("transformer.layers.1.attention.dense.weight", StringComparison.Ordinal)));
        cases.Add((missing, "missing tensor 'transformer_blocks.1.attn1.to_out.0.weight' (from 'model.diffusion_model.transformer.layers.1.attention.dense.weight')"));

        var unknown = Ckpts(engine);
        WriteEngine(Path.Combine(unknown, "tora", "t2v", SatPipelineSource.EngineFile), tensors.Append(("model.diffusion_model.mixins.extra.weight", [1], [0f])));
        cases.Add((unknown, "unknown SAT transformer tensor 'model.diffusion_model.mixins.extra.weight'"));

        var forbidden = Ckpts(engine);
        WriteEngine(Path.Combine(forbidden, "tora", "t2v", SatPipelineSource.EngineFile), tensors, extraGlobal: "builtins.eval");
        cases.Add((forbidden, "refusing pickle global 'builtins.eval'"));

        var original = Console.Error;
        try
        {
            foreach (var (folder, expected) in cases)
            {
                var error = new StringWriter();
                Console.SetError(error);
                int code = await ToraCommand.RunAsync(["model", "build", "--from", folder, "--out", Path.Combine(TestData.TempFolder(), "p"),
                    "--sat-config", TinyYaml("t2v"), "--vae-norm-groups", "2"]);
                var text = error.ToString().TrimEnd();
                Assert.True(code == 2, $"{expected}: exit {code}, {text}");
                Assert.DoesNotContain('\n', text);
                Assert.Contains(expected, text);
            }
        }
        finally
        {
            Console.SetError(original);
        }
    }

    [Fact]
    public void Compressed_members_and_a_wrong_layout_are_refused_with_the_reason()
    {
        var path = Path.Combine(TestData.TempFolder(), "deflated.pt");
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create))
        {
            using var s = zip.CreateEntry("archive/data.pkl", System.IO.Compression.CompressionLevel.Optimal).Open();
            s.Write(new byte[1000]);
        }
        Assert.Contains("zip member 'archive/data.pkl' is compressed", Assert.Throws<InvalidDataException>(() => TorchCheckpointFile.Open(path)).Message);
        var ckpts = Ckpts(Sat("fp32/t2v/mp_rank_00_model_states.pt"));
        Assert.Contains("transformer/config.json is missing", Assert.Throws<CheckpointException>(() => DiffusersPipelineSource.Open(ckpts)).Message);
        Assert.Contains("not a SAT ckpts folder", Assert.Throws<CheckpointException>(() => SatPipelineSource.Open(TestData.Path("fixtures/tiny-tora-t2v"), new())).Message);
    }

    [Fact]
    public void Without_the_yaml_a_grid_that_is_not_cogvideox_5b_fails_naming_the_rope_table()
    {
        var ckpts = Ckpts(Sat("fp32/t2v/mp_rank_00_model_states.pt"));
        var e = Assert.Throws<CheckpointException>(() => SatPipelineSource.Open(ckpts, new SatImportOptions { VaeNormGroups = 2 }));
        Assert.Contains("the RoPE table has 312 rows but a 60×90 latent grid of 49 frames needs 17550; give the model YAML (--sat-config)", e.Message);
    }

    [Fact]
    public void Both_variants_present_need_a_choice()
    {
        var root = Ckpts(Sat("fp32/t2v/mp_rank_00_model_states.pt"));
        Directory.CreateDirectory(Path.Combine(root, "tora", "i2v"));
        File.Copy(Sat("i2v/mp_rank_00_model_states.pt"), Path.Combine(root, "tora", "i2v", SatPipelineSource.EngineFile));
        Assert.Contains("--variant", Assert.Throws<CheckpointException>(() => SatPipelineSource.Open(root, TinyOptions("t2v"))).Message);
        using var i2v = SatPipelineSource.Open(root, TinyOptions("i2v") with { Variant = "i2v" });
        Assert.Equal(("i2v", 1), (i2v.Variant, i2v.Transformer.NumLayers));
    }
}

/// <summary>The inverse mapping and <c>tora model random --layout sat</c>.</summary>
public sealed class SatLayoutTests
{
    [Fact]
    public void The_sat_layout_of_the_tiny_configs_is_exactly_the_fixture_engine_file()
    {
        var fixture = "fixtures/tiny-tora-t2v/";
        var expected = SatLayout.Engine(ToraTransformerConfig.Load(TestData.Path(fixture + "transformer/config.json")),
                T5EncoderConfig.Load(TestData.Path(fixture + "text_encoder/config.json")), CogVideoXVaeConfig.Load(TestData.Path(fixture + "vae/config.json")))
            .Select(t => $"{t.Name} [{string.Join(",", t.Shape)}]").Append($"{SatMapping.TextEncoderPrefix}encoder.embed_tokens.weight [1100,32]");
        using var file = TorchCheckpointFile.Open(Sat("fp32/t2v/mp_rank_00_model_states.pt"));
        var actual = file.Tensors.Values.Select(t => $"{t.Name} [{string.Join(",", t.Shape)}]");
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_random_tiny_sat_folder_builds_into_a_package_from_the_cli()
    {
        var root = TestData.TempFolder();
        var ckpts = Path.Combine(root, "ckpts");
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--layout", "sat", "--out", ckpts, "--seed", "4"]));
        Assert.True(File.Exists(Path.Combine(ckpts, "tora", "t2v", SatPipelineSource.EngineFile)) && File.Exists(Path.Combine(ckpts, "vae", "3d-vae.pt")));
        using (var file = TorchCheckpointFile.Open(Path.Combine(ckpts, "tora", "t2v", SatPipelineSource.EngineFile)))
        {
            var shared = file.Tensors[SatMapping.TextEncoderPrefix + "shared.weight"];
            Assert.Equal(shared.StorageKey, file.Tensors[SatMapping.TextEncoderPrefix + "encoder.embed_tokens.weight"].StorageKey);
        }
        var package = Path.Combine(root, "package");
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "build", "--from", ckpts, "--out", package, "--sat-config", TinyYaml("t2v"), "--vae-norm-groups", "2"]));
        var manifest = ModelManifest.Read(package);
        Assert.Equal(("sat", "t2v", "tora-t2v"), (manifest.Source.Layout, manifest.Source.Variant, manifest.ModelType));
        Assert.Equal([Path.GetFullPath(TinyYaml("t2v")), "t5-v1_1-xxl/config.json", "tora/t2v/mp_rank_00_model_states.pt"],
            manifest.Source.Files.Select(f => f.Path).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_sat_folder_builds_a_transformer_only_package_and_refuses_the_diffusers_only_options()
    {
        var root = TestData.TempFolder();
        var ckpts = Path.Combine(root, "ckpts");
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--layout", "sat", "--out", ckpts, "--seed", "4"]));
        var package = Path.Combine(root, "package");
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "build", "--from", ckpts, "--out", package, "--sat-config", TinyYaml("t2v"),
            "--vae-norm-groups", "2", "--only", "transformer"]));
        var manifest = ModelManifest.Read(package);
        Assert.Equal(("sat", "tora-t2v"), (manifest.Source.Layout, manifest.ModelType));
        Assert.Equal(["trajectory_encoder", "transformer"], manifest.Components.Keys.Order(StringComparer.Ordinal));
        Assert.Null(manifest.Vae);

        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        try
        {
            // The SAT folder holds both models (--variant picks one); a random transformer-only folder is diffusers.
            Assert.Equal(2, await ToraCommand.RunAsync(["model", "build", "--from", ckpts, "--out", Path.Combine(root, "p"),
                "--transformer", TestData.Path("fixtures/tiny-tora-i2v/transformer")]));
            Assert.Equal(2, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--layout", "sat", "--only", "transformer",
                "--out", Path.Combine(root, "r")]));
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Contains("tora: --transformer applies to a diffusers pipeline folder", error.ToString());
        Assert.Contains("tora: --only transformer|vae and --layers write a diffusers folder", error.ToString());
        Assert.False(Directory.Exists(Path.Combine(root, "r")));
    }
}
