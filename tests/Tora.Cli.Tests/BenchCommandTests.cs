using System.Text.Json;
using Tora.Motion.IO;
using Tora.Inference.Package;
using Tora.TestSupport;

namespace Tora.Cli.Tests;

/// <summary><c>tora bench step|diff</c> (issue 10's measurement tool) on the tiny fixture, CPU only.</summary>
public sealed class BenchCommandTests
{
    private static readonly string Fixture = TestData.Path("fixtures/tiny-tora-t2v");
    private static readonly string Reference = Path.Combine(Fixture, "reference", "transformer_t2v.npz");

    private static async Task<string> TinyPackage(string root, string precision = "fp32")
    {
        var package = Path.Combine(root, "pkg-" + precision);
        var r = await CliRunner.RunAsync("model", "build", "--from", Fixture, "--out", package, "--precision", precision, "--only", "transformer");
        Assert.True(r.ExitCode == 0, r.Error);
        return package;
    }

    [Fact]
    public async Task Step_on_the_tiny_package_reproduces_the_reference_noise_prediction_and_reports_timings()
    {
        var root = TestData.TempFolder();
        var package = await TinyPackage(root);
        var pred = Path.Combine(root, "noise_pred.npy");
        var json = Path.Combine(root, "results.jsonl");
        var r = await CliRunner.RunAsync("bench", "step", "--package", package, "--device", "cpu", "--inputs", Reference,
            "--warmup", "1", "--runs", "3", "--noise-pred", pred, "--json", json);
        Assert.True(r.ExitCode == 0, r.Error + r.Output);
        Assert.Contains("execution provider: CPUExecutionProvider", r.Output);
        Assert.Contains("RESULT step provider=CPUExecutionProvider precision=fp32 motion=on runs=3 median_ms=", r.Output);

        // tests/data/fixtures/README.md: transformer outputs within 1e-4 of the original (timestep 999, with the trajectory).
        var diff = await CliRunner.RunAsync("bench", "diff", "--actual", pred, "--expected", Reference + ":noise_pred_t999", "--max-abs", "1e-4");
        Assert.True(diff.ExitCode == 0, diff.Output + diff.Error);
        Assert.Contains("(≤ 1.0E-004: ok)", diff.Output);

        using var line = JsonDocument.Parse(File.ReadAllLines(json).Single());
        var median = line.RootElement.GetProperty("median_ms").GetDouble();
        Assert.InRange(median, line.RootElement.GetProperty("min_ms").GetDouble(), line.RootElement.GetProperty("max_ms").GetDouble());
        Assert.False(line.RootElement.GetProperty("profiled").GetBoolean());
    }

    [Fact]
    public async Task Motion_off_matches_the_reference_without_the_trajectory()
    {
        await AssertStepMatchesReferenceAsync("noise_pred_t999_no_flow", "--motion", "off");
    }

    [Fact]
    public async Task Without_the_cpu_arena_the_step_still_matches_the_reference()
    {
        var package = await AssertStepMatchesReferenceAsync("noise_pred_t999", "--cpu-arena", "off");
        var bad = await CliRunner.RunAsync("bench", "step", "--package", package, "--device", "cpu", "--cpu-arena", "maybe");
        Assert.NotEqual(0, bad.ExitCode);
    }

    /// <summary>One CPU step on the reference inputs with <paramref name="options"/>; its noise prediction within 1e-4 of <paramref name="expected"/>. Returns the package.</summary>
    private static async Task<string> AssertStepMatchesReferenceAsync(string expected, params string[] options)
    {
        var root = TestData.TempFolder();
        var package = await TinyPackage(root);
        var pred = Path.Combine(root, "noise-pred.npy");
        var r = await CliRunner.RunAsync(["bench", "step", "--package", package, "--device", "cpu", "--inputs", Reference,
            .. options, "--warmup", "0", "--runs", "1", "--noise-pred", pred]);
        Assert.True(r.ExitCode == 0, r.Error + r.Output);
        var diff = await CliRunner.RunAsync("bench", "diff", "--actual", pred, "--expected", Reference + ":" + expected, "--max-abs", "1e-4");
        Assert.True(diff.ExitCode == 0, diff.Output);
        return package;
    }

    [Fact]
    public async Task Vae_bench_decodes_the_tiny_vae_with_and_without_the_cpu_arena()
    {
        var root = TestData.TempFolder();
        var random = Path.Combine(root, "random");
        Assert.Equal(0, (await CliRunner.RunAsync("model", "random", "--config", "tiny", "--only", "vae", "--out", random)).ExitCode);
        foreach (var arena in new[] { "on", "off" })
        {
            var r = await CliRunner.RunAsync("bench", "vae", "--vae", Path.Combine(random, "vae"), "--latent-frames", "1", "--cpu-arena", arena);
            Assert.True(r.ExitCode == 0, r.Error + r.Output);
            Assert.Contains($"(CPU arena {arena})", r.Output);
            Assert.Contains("decoded [1, 1, ", r.Output);
        }
    }

    [Fact]
    public async Task Random_inputs_are_written_at_the_package_geometry_with_the_cfg_batch()
    {
        var root = TestData.TempFolder();
        var package = await TinyPackage(root);
        var inputs = Path.Combine(root, "inputs.npz");
        var r = await CliRunner.RunAsync("bench", "step", "--package", package, "--device", "cpu", "--warmup", "0", "--runs", "1",
            "--save-inputs", inputs, "--seed", "4");
        Assert.True(r.ExitCode == 0, r.Error + r.Output);
        var npz = NpzFile.Read(inputs);
        var m = ModelManifest.Read(package);
        Assert.Equal([2, m.Geometry.LatentFrames, m.Transformer.InChannels, m.Geometry.LatentHeight, m.Geometry.LatentWidth], npz["hidden_states"].Shape);
        Assert.Equal([2, m.TextLength, m.Transformer.TextEmbedDim], npz["encoder_hidden_states"].Shape);
        Assert.Equal([999L, 999L], npz["timestep"].ToInt64s());
        Assert.Equal([m.Geometry.VideoTokens, m.Transformer.AttentionHeadDim], npz["rope_cos"].Shape);
        Assert.Equal([1, m.Geometry.LatentFrames, m.Geometry.LatentChannels, m.Geometry.LatentHeight, m.Geometry.LatentWidth], npz["video_flow"].Shape);
        // Seeded: the same seed gives the same inputs.
        var again = Path.Combine(root, "again.npz");
        Assert.Equal(0, (await CliRunner.RunAsync("bench", "step", "--package", package, "--device", "cpu", "--warmup", "0", "--runs", "1",
            "--save-inputs", again, "--seed", "4")).ExitCode);
        Assert.Equal(npz["hidden_states"].Data, NpzFile.Read(again)["hidden_states"].Data);
    }

    [Fact]
    public async Task Step_chooses_the_provider_as_the_worker_does_and_falls_back_loudly()
    {
        var root = TestData.TempFolder();
        var package = await TinyPackage(root);
        var r = await CliRunner.RunAsync("bench", "step", "--package", package, "--device", "cuda", "--warmup", "0", "--runs", "1",
            "--cuda-option", "sdpa_kernel=8");
        Assert.True(r.ExitCode == 0, r.Error + r.Output);
        var lines = r.Output.Split('\n');
        if (r.Output.Contains("RESULT step provider=CUDAExecutionProvider", StringComparison.Ordinal))
        {
            // A machine with CUDA 13 and cuDNN 9 on the library path: the provider says so, with the options over the product's.
            Assert.Contains("execution provider: CUDAExecutionProvider (CUDA device 0 is usable)", lines);
            Assert.Contains("CUDA provider options over the product's: sdpa_kernel=8", lines);
            return;
        }
        // OrtSessionFactory's one line: the worker's own fallback wording (bench/gpu/run.sh looks for it).
        Assert.Single(lines, l => l.StartsWith("execution provider: CPUExecutionProvider, FALLING BACK TO CPU: CUDA is not usable (", StringComparison.Ordinal));
        Assert.Contains("RESULT step provider=CPUExecutionProvider", r.Output);

        var cpu = await CliRunner.RunAsync("bench", "step", "--package", package, "--device", "cpu", "--warmup", "0", "--runs", "1");
        Assert.True(cpu.ExitCode == 0, cpu.Error + cpu.Output);
        Assert.Contains("execution provider: CPUExecutionProvider (the CPU provider was requested)", cpu.Output.Split('\n'));
        Assert.DoesNotContain("FALLING BACK", cpu.Output);
    }

    [Fact]
    public async Task Profile_and_optimised_graph_show_fused_attention()
    {
        var root = TestData.TempFolder();
        var package = await TinyPackage(root);
        var r = await CliRunner.RunAsync("bench", "step", "--package", package, "--device", "cpu", "--inputs", Reference, "--warmup", "0", "--runs", "1",
            "--profile", Path.Combine(root, "prof"), "--optimized-model", Path.Combine(root, "opt.onnx"));
        Assert.True(r.ExitCode == 0, r.Error + r.Output);
        Assert.Contains("RESULT step (PROFILED: not a timing)", r.Output);
        Assert.Contains("profile: node runs by provider: CPUExecutionProvider", r.Output);
        Assert.Contains("MultiHeadAttention", r.Output);
        Assert.Contains("attention check: 2 fused attention nodes, 0 Softmax nodes", r.Output);
        Assert.Single(Directory.GetFiles(root, "prof*.json"));
    }

    [Fact]
    public async Task Diff_fails_beyond_the_tolerance_and_on_shape_mismatch()
    {
        var root = TestData.TempFolder();
        var a = Path.Combine(root, "a.npy");
        var b = Path.Combine(root, "b.npy");
        var c = Path.Combine(root, "c.npy");
        NpyArray.FromFloats([1f, 2f, 3f, 4f], 2, 2).Write(a);
        NpyArray.FromFloats([1f, 2.5f, 3f, 4f], 2, 2).Write(b);
        NpyArray.FromFloats([1f, 2f, 3f, 4f], 4).Write(c);

        var within = await CliRunner.RunAsync("bench", "diff", "--actual", a, "--expected", b, "--max-abs", "0.5");
        Assert.Equal(0, within.ExitCode);
        Assert.Contains("max abs 5.000E-001, mean abs 1.250E-001", within.Output);
        var beyond = await CliRunner.RunAsync("bench", "diff", "--actual", a, "--expected", b, "--max-abs", "0.4");
        Assert.Equal(1, beyond.ExitCode);
        Assert.Contains("FAILED", beyond.Output);
        var shape = await CliRunner.RunAsync("bench", "diff", "--actual", a, "--expected", c);
        Assert.Equal(1, shape.ExitCode);
        Assert.Contains("shapes differ", shape.Error);
    }

    [Fact]
    public void Difference_reports_nan_instead_of_hiding_it()
    {
        var (max, _, nan) = BenchCommands.Difference([1f, float.NaN], [1f, 1f]);
        Assert.True(nan);
        Assert.Equal(0, max);
    }

    [Fact]
    public async Task Bf16_on_the_cpu_provider_fails_with_one_line()
    {
        var root = TestData.TempFolder();
        var package = await TinyPackage(root, "bf16");
        var r = await CliRunner.RunAsync("bench", "step", "--package", package, "--device", "cpu", "--inputs", Reference, "--warmup", "0", "--runs", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("tora: ", r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Transformer_only_random_checkpoint_and_package_hold_just_the_transformer()
    {
        var root = TestData.TempFolder();
        var random = Path.Combine(root, "random");
        var package = Path.Combine(root, "package");
        Assert.Equal(0, (await CliRunner.RunAsync("model", "random", "--config", "tiny", "--only", "transformer", "--out", random)).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(random, "text_encoder")));
        Assert.False(Directory.Exists(Path.Combine(random, "vae")));
        Assert.True(File.Exists(Path.Combine(random, "scheduler", "scheduler_config.json")));
        var r = await CliRunner.RunAsync("model", "build", "--from", random, "--out", package, "--only", "transformer");
        Assert.True(r.ExitCode == 0, r.Error);
        var m = ModelManifest.Read(package);
        Assert.Equal(["trajectory_encoder", "transformer"], m.Components.Keys.Order(StringComparer.Ordinal));
        Assert.Null(m.Vae);
        // The full build still insists on the text encoder.
        var full = await CliRunner.RunAsync("model", "build", "--from", random, "--out", Path.Combine(root, "full"));
        Assert.Equal(2, full.ExitCode);
        Assert.Contains("text_encoder/config.json is missing", full.Error);
    }
}
