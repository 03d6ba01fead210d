using Tora.Motion.IO;
using Tora.Inference.Package;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;
using Tora.Models.Package;
using Tora.TestSupport;

namespace Tora.Models.Tests;

public sealed class PackageBuilderTests
{
    private static string Source => TestData.Path("fixtures/tiny-tora-t2v");

    [Fact]
    public void Builds_a_package_whose_graphs_reproduce_the_reference()
    {
        var output = Path.Combine(TestData.TempFolder(), "package");
        PackageBuilder.Build(Source, output, Precision.Fp32);
        var manifest = ModelManifest.Read(output);

        Assert.Equal(("tora-t2v", "fp32", 17L, 226), (manifest.ModelType, manifest.Precision, manifest.Opset, manifest.TextLength));
        Assert.Equal(new PackageGeometry(49, 64, 96, 13, 8, 12, 16, 2, 312), manifest.Geometry);
        Assert.Equal("v_prediction", manifest.SchedulerConfig.GetProperty("prediction_type").GetString());
        Assert.True(File.Exists(Path.Combine(output, "tokenizer", "spiece.model")));
        Assert.Contains(manifest.Source.Files, f => f.Path == "transformer/diffusion_pytorch_model.safetensors" && f.Sha256.Length == 64);

        var transformer = manifest.Components[PackageBuilder.Transformer];
        Assert.Equal(["hidden_states", "encoder_hidden_states", "timestep", "rope_cos", "rope_sin", "mgf_gamma_0", "mgf_beta_0", "mgf_gamma_1", "mgf_beta_1"],
            transformer.Inputs.Select(i => i.Name));
        Assert.Equal(["batch", "13", "16", "8", "12"], transformer.Inputs[0].Shape);
        Assert.Equal("int64", transformer.Inputs[2].ElementType);
        Assert.Equal(["noise_pred"], transformer.Outputs.Select(o => o.Name));
        Assert.Equal(["input_ids"], manifest.Components[PackageBuilder.TextEncoder].Inputs.Select(i => i.Name));

        var reference = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/transformer_t2v.npz"));
        using var encoder = new OrtRunner(Path.Combine(output, manifest.Components[PackageBuilder.TrajectoryEncoderComponent].File));
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
        using var runner = new OrtRunner(Path.Combine(output, transformer.File));
        var pred = runner.Run(inputs, "noise_pred")["noise_pred"];
        Assert.True(OrtRunner.MaxAbsDiff(pred, reference["noise_pred_t500"]) <= 1e-4f);
    }

    [Fact]
    public void The_package_vae_decoder_decodes_the_reference_latents()
    {
        var output = Path.Combine(TestData.TempFolder(), "package");
        var manifest = PackageBuilder.Build(Source, output, Precision.Bf16);
        Assert.Equal(new VaeInfo(0.7, 4, 8, 16), manifest.Vae);
        var decoderSpec = manifest.Components[PackageBuilder.VaeDecoderComponent];
        Assert.Equal("fp32", decoderSpec.Precision);
        Assert.Equal("latents", decoderSpec.Inputs[0].Name);
        // Spatial sizes are symbolic (one graph for whole frames and tiles): each cache is named relative to the input.
        var pasts = decoderSpec.Inputs.Where(i => i.Name.StartsWith(GraphNames.Vae.PastPrefix, StringComparison.Ordinal)).ToList();
        Assert.Equal(["1", "16", "past_frames", "latent_height", "latent_width"], pasts[0].Shape);
        Assert.All(pasts, i => Assert.Matches(@"^latent_height(\*\d+)?$", i.Shape[3]));
        Assert.Contains(pasts, i => i.Shape[3] == "latent_height*8");
        Assert.Equal([Tora.Inference.Vae.VaeFrameInputs.CacheFill, Tora.Inference.Vae.VaeFrameInputs.OddFrames],
            decoderSpec.Inputs.Where(i => Tora.Inference.Vae.VaeFrameInputs.Is(i.Name)).Select(i => i.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["1", "16", "latent_frames", "latent_height", "latent_width"], decoderSpec.Inputs[0].Shape);
        Assert.Equal("sample", decoderSpec.Outputs[0].Name);
        Assert.Equal(pasts.Select(i => i.Name.Replace("past.", "present.")), decoderSpec.Outputs.Skip(1).Select(o => o.Name));
        Assert.Equal(["mean", "logvar"], manifest.Components[PackageBuilder.VaeEncoderComponent].Outputs.Take(2).Select(o => o.Name));
        Assert.Equal(["1", "3", "frames", "height", "width"], manifest.Components[PackageBuilder.VaeEncoderComponent].Inputs[0].Shape);
        Assert.Equal(["1", "16", "latent_frames", "height/8", "width/8"], manifest.Components[PackageBuilder.VaeEncoderComponent].Outputs[0].Shape);

        var reference = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/vae_decoder.npz"));
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(output, decoderSpec.File));
        using var decoder = new Tora.Inference.Vae.VaeDecoder(session, manifest.Vae!.ScalingFactor, 8, 12, manifest.Vae.TemporalCompression);
        var sample = decoder.DecodeUnscaled(reference["latents"].ToFloats(), 13, Tora.Inference.Vae.FrameLayout.ChannelsFirst);
        Assert.True(OrtRunner.MaxAbsDiff(NpyArray.FromFloats(sample, 1, 3, 49, 64, 96), reference["sample"]) <= 1e-4f);
    }

    [Fact]
    public void The_package_holds_the_vae_graphs_and_an_image_to_video_transformer_can_borrow_the_t2v_components()
    {
        var output = Path.Combine(TestData.TempFolder(), "package");
        var manifest = PackageBuilder.Build(Source, output, Precision.Fp32, transformerSource: TestData.Path("fixtures/tiny-tora-i2v/transformer"));
        Assert.Equal(("tora-i2v", 32), (manifest.ModelType, manifest.Transformer.InChannels));
        Assert.Equal(new VaeInfo(0.7, 4, 8, 16), manifest.Vae);
        var encoder = manifest.Components[PackageBuilder.VaeEncoderComponent];
        // Empty past caches mark a clip's first chunk (no flag input).
        Assert.Equal("frames", encoder.Inputs[0].Name);
        Assert.Subset(encoder.Outputs.Select(i => i.Name).ToHashSet(), new HashSet<string> { "mean", "logvar" });
        Assert.Contains(encoder.Inputs, i => i.Name.StartsWith("past.", StringComparison.Ordinal));
        var latents = manifest.Components[PackageBuilder.VaeDecoderComponent].Inputs.Single(i => i.Name == "latents");
        Assert.Equal(["1", "16", "latent_frames", "latent_height", "latent_width"], latents.Shape);
        Assert.Contains(manifest.Source.Files, f => f.Path == "vae/diffusion_pytorch_model.safetensors");
        Assert.Contains(manifest.Source.Files, f => f.Path.EndsWith("tiny-tora-i2v/transformer/config.json", StringComparison.Ordinal));
        Assert.All(manifest.Components.Values, c => Assert.True(File.Exists(Path.Combine(output, c.File))));
    }

    [Fact]
    public void A_borrowed_transformer_folder_needs_a_config()
    {
        var e = Assert.Throws<CheckpointException>(() => PackageBuilder.Build(Source, Path.Combine(TestData.TempFolder(), "p"), Precision.Fp32, transformerSource: TestData.TempFolder()));
        Assert.Contains("config.json is missing", e.Message);
    }

    [Fact]
    public void A_bf16_package_stores_bfloat16_weights_and_float32_islands()
    {
        var output = Path.Combine(TestData.TempFolder(), "package");
        var manifest = PackageBuilder.Build(Source, output, Precision.Bf16);
        Assert.Equal("bf16", manifest.Precision);
        var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(output, "transformer.onnx")));
        var types = model.Graph.Initializer.ToDictionary(t => t.Name, t => t.DataType);
        Assert.Equal(16, types["transformer_blocks.0.attn1.to_q.weight"]);
        Assert.Equal(1, types["fuser.0.flow_cond_norm.weight"]);
        Assert.Equal("bfloat16", manifest.Components[PackageBuilder.TrajectoryEncoderComponent].Outputs[0].ElementType);
    }

    [Fact]
    public void Refuses_a_folder_without_a_transformer()
    {
        var source = TestData.TempFolder();
        var e = Assert.Throws<CheckpointException>(() => PackageBuilder.Build(source, Path.Combine(TestData.TempFolder(), "p"), Precision.Fp32));
        Assert.Contains("transformer/config.json", e.Message);
    }

    [Fact]
    public void Refuses_to_overwrite_a_non_empty_folder()
    {
        var output = TestData.TempFolder();
        File.WriteAllText(Path.Combine(output, "x"), "");
        Assert.Throws<IOException>(() => PackageBuilder.Build(Source, output, Precision.Fp32));
    }

    [Fact]
    public void A_manifest_of_another_format_version_is_refused_with_a_clear_message()
    {
        var output = Path.Combine(TestData.TempFolder(), "package");
        PackageBuilder.Build(Source, output, Precision.Fp32);
        var path = Path.Combine(output, ModelManifest.FileName);
        File.WriteAllText(path, File.ReadAllText(path).Replace($"\"format_version\": {ModelManifest.CurrentFormatVersion}", "\"format_version\": 99"));
        var e = Assert.Throws<InvalidDataException>(() => ModelManifest.Read(output));
        Assert.Contains("format version 99", e.Message);
    }
}
