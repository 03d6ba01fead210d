using System.Diagnostics;
using Tora.Models.Graph;
using Tora.TestSupport;
using Xunit.Abstractions;

namespace Tora.Cli.Tests;

/// <summary>
/// The tiny packages at fp32, fp16, bf16 and I2V bf16, and the stand-in CUDA libraries built from what this
/// build's CUDA provider imports (<see cref="CudaStandIns"/>).
/// </summary>
public sealed class CudaPlacementFixture
{
    public CudaPlacementFixture()
    {
        Root = TestData.TempFolder("tora-placement");
        var provider = Path.Combine(AppContext.BaseDirectory, "libonnxruntime_providers_cuda.so");
        if (!File.Exists(provider)) throw new InvalidOperationException($"{provider} is missing: the placement test needs the default (GPU) ONNX Runtime package");
        StandIns = CudaStandIns.Build(provider, Path.Combine(Root, "cuda"));
        var fixture = TestData.Path("fixtures/tiny-tora-t2v");
        Packages = new Dictionary<string, string>
        {
            ["fp32"] = Build(fixture, "fp32"),
            ["fp16"] = Build(fixture, "fp16"),
            ["bf16"] = Build(fixture, "bf16"),
            ["i2v-bf16"] = Build(fixture, "bf16", TestData.Path("fixtures/tiny-tora-i2v/transformer")),
        };
    }

    public string Root { get; }
    public CudaStandIns StandIns { get; }
    public IReadOnlyDictionary<string, string> Packages { get; }

    private string Build(string from, string precision, string? transformer = null)
    {
        var output = Path.Combine(Root, (transformer is null ? "t2v-" : "i2v-") + precision);
        string[] args = ["model", "build", "--from", from, "--out", output, "--precision", precision];
        if (transformer is not null) args = [.. args, "--transformer", transformer];
        var r = CliRunner.RunAsync(args).GetAwaiter().GetResult();
        if (r.ExitCode != 0) throw new InvalidOperationException($"tora model build failed: {r.Error}");
        return output;
    }
}

/// <summary>
/// Where ONNX Runtime's real CUDA provider puts every node of every graph, checked on a machine without a GPU
/// over <see cref="CudaStandIns"/> (docs/gpu.md). <c>tora model check</c> runs in a child process, which finds the
/// stand-ins on LD_LIBRARY_PATH.
/// </summary>
public sealed class CudaPlacementTests(CudaPlacementFixture f, ITestOutputHelper output) : IClassFixture<CudaPlacementFixture>
{
    [Theory]
    [InlineData("fp32")]
    [InlineData("fp16")]
    [InlineData("bf16")]
    [InlineData("i2v-bf16")]
    public async Task Every_graph_of_the_package_is_placed_on_cuda_with_the_cpu_fallback_disabled(string package)
    {
        var r = await Check(f.StandIns.Folder, "--package", f.Packages[package], "--placement-only");
        Assert.True(r.ExitCode == 0, r.Output + r.Error);
        foreach (var component in new[] { "text_encoder", "trajectory_encoder", "transformer", "vae_encoder", "vae_decoder" })
            Assert.Contains($"OK {component}\n", r.Output);
        Assert.Contains("5 of 5 graphs placed on CUDAExecutionProvider with the CPU fallback disabled", r.Output);
    }

    [Fact]
    public async Task Int64_shape_arithmetic_is_refused()
    {
        // What the VAE graphs did before their frame counts became inputs: Shape → Slice → Sub → Concat feeding Tile.
        var g = new GraphBuilder("shape_arithmetic", ElementType.Float32);
        var x = g.Input("x", ElementType.Float32, 1, 4, "t", 2, 2);
        var past = g.Input("past", ElementType.Float32, 1, 4, "p", 2, 2);
        var frames = g.Slice(g.Shape(past), 0, g.Int64s(2), g.Int64s(3));
        var missing = g.Sub(g.Int64s(2), frames);
        var fill = g.Node("Tile", g.Relu(x), g.Concat(0, g.Int64s(1, 1), missing, g.Int64s(1, 1)));
        g.Output(g.Relu(fill), "y", ElementType.Float32, 1, 4, "u", 2, 2);
        var path = Save(g);

        var r = await Check(f.StandIns.Folder, "--graph", path, "--placement-only");
        Assert.Equal(ModelCheckCommand.PlacementFailed, r.ExitCode);
        Assert.Contains($"FAIL {path}", r.Output);
        Assert.Contains("0 of 1 graphs placed", r.Output);
    }

    [Fact]
    public async Task A_node_without_a_cuda_kernel_is_refused()
    {
        // ONNX Unique has CPU kernels only.
        var g = new GraphBuilder("no_cuda_kernel", ElementType.Float32);
        var x = g.Input("x", ElementType.Float32, 8);
        var unique = g.Node("Unique", g.Relu(x));
        g.Output(g.Relu(unique), "y", ElementType.Float32, "n");
        var path = Save(g);

        var r = await Check(f.StandIns.Folder, "--graph", path, "--placement-only");
        Assert.Equal(ModelCheckCommand.PlacementFailed, r.ExitCode);
        Assert.Contains($"FAIL {path}", r.Output);
    }

    [Fact]
    public async Task Without_cudnn_the_start_up_conv_fails_and_says_why()
    {
        // The provider loads without cuDNN (ONNX Runtime 1.31 opens it when a kernel first needs it): only the Conv finds out.
        var path = Save(Relu());
        var r = await Check(f.StandIns.FolderWithout(CudaStandIns.CudnnLibrary), "--graph", path);
        Assert.Equal(ModelCheckCommand.CudaUnusable, r.ExitCode);
        Assert.StartsWith("tora: the CUDA execution provider cannot be used on device 0: the CUDA provider loads but a Conv on the device fails: "
            + "cuDNN is unavailable or disabled for CUDA Execution Provider: dlopen failed for libcudnn", r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
        // Placement alone does not need cuDNN for this graph: the failure above is the probe's.
        Assert.Equal(0, (await Check(f.StandIns.FolderWithout(CudaStandIns.CudnnLibrary), "--graph", path, "--placement-only")).ExitCode);
    }

    [Fact]
    public async Task A_cudnn_that_cannot_compute_fails_the_start_up_conv()
    {
        // With the cuDNN stand-in, cuDNN loads but offers no convolution engine (its calls do nothing): the probe
        // still fails, for that reason and not a missing library.
        var r = await Check(f.StandIns.Folder, "--graph", Save(Relu()));
        Assert.Equal(ModelCheckCommand.CudaUnusable, r.ExitCode);
        Assert.Contains("a Conv on the device fails: ", r.Error);
        Assert.Contains("CUDNN Frontend", r.Error);
        Assert.DoesNotContain("dlopen", r.Error);
    }

    [Fact]
    public async Task A_bf16_package_is_refused_with_one_line_when_cuda_is_not_usable()
    {
        // This test process has no CUDA libraries: the pipeline chooses the CPU, which has no bfloat16 MatMul.
        var output = Path.Combine(f.Root, "bf16.mp4");
        var r = await CliRunner.RunAsync("generate", "--model", f.Packages["bf16"], "--prompt", "A fox.", "--steps", "1", "--out", output);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"tora: the bf16 model package {f.Packages["bf16"]} needs CUDA, and CUDA is not usable (", r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task A_bf16_package_on_a_cuda_that_cannot_compute_says_why()
    {
        // Over the stand-ins the provider loads but the start-up Conv fails: the refusal carries that reason.
        var r = await Run(f.StandIns.FolderWithout(CudaStandIns.CudnnLibrary),
            "generate", "--model", f.Packages["i2v-bf16"], "--prompt", "A fox.", "--steps", "1", "--out", Path.Combine(f.Root, "x.mp4"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("needs CUDA, and CUDA is not usable (the CUDA provider loads but a Conv on the device fails: cuDNN is unavailable", r.Error);
    }

    [Fact]
    public async Task A_worker_serving_a_bf16_package_without_cuda_is_not_ready_and_fails_jobs_with_model_unavailable()
    {
        using var generator = new Tora.Inference.Pipeline.ToraVideoGenerator("tora", f.Packages["bf16"],
            new Tora.Inference.Pipeline.ExecutionOptions { Provider = Tora.Inference.Pipeline.ExecutionProviderChoice.Cpu });
        Assert.False(generator.Status.Ready);
        Assert.Contains("needs CUDA, and the CPU provider was requested", generator.Status.Detail);
        var request = new Tora.Inference.GenerationRequest
        {
            Prompt = "A fox.", Geometry = new Tora.Motion.Trajectories.VideoGeometry(49, 64, 96), Steps = 1, GuidanceScale = 6, DynamicCfg = true, Seed = 1,
            OutputPath = Path.Combine(f.Root, "w.mp4"), Fps = 8, Trajectories = [],
        };
        var e = await Assert.ThrowsAsync<Tora.Inference.GenerationException>(() => generator.GenerateAsync(request, new Progress<Tora.Inference.GenerationProgress>(), CancellationToken.None));
        Assert.Equal("model_unavailable", e.Code);
    }

    private static GraphBuilder Relu()
    {
        var g = new GraphBuilder("relu", ElementType.Float32);
        g.Output(g.Relu(g.Input("x", ElementType.Float32, 4)), "y", ElementType.Float32, 4);
        return g;
    }

    private string Save(GraphBuilder g)
    {
        var path = Path.Combine(f.Root, $"{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, g.ToBytes());
        return path;
    }

    private Task<CliResult> Check(string libraries, params string[] args) => Run(libraries, ["model", "check", .. args]);

    private async Task<CliResult> Run(string libraries, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "tora.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["LD_LIBRARY_PATH"] = libraries;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(timeout.Token);
        var r = new CliResult(p.ExitCode, (await stdout).ReplaceLineEndings("\n"), await stderr);
        output.WriteLine($"tora {string.Join(' ', args)} → {r.ExitCode}\n{r.Output}{r.Error}");
        return r;
    }
}
