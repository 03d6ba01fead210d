using Microsoft.ML.OnnxRuntime;
using Tora.Contracts;
using Tora.Inference.Noise;
using Tora.Inference.Package;
using Tora.Inference.Pipeline;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Pipeline;

/// <summary>What a user of the pipeline notices: replay, progress, cancellation, errors, memory modes, image-to-video.</summary>
[Collection(TinyPackageCollection.Name)]
public sealed class PipelineBehaviourTests(TinyPackageFixture fixture)
{
    private GenerationRequest Request(INoiseSource noise, int steps = 2) => new()
    {
        Prompt = "A fox running through snow.",
        Trajectories = fixture.Coaster,
        Steps = steps,
        Noise = noise,
    };

    [Fact]
    public async Task A_recorded_run_replays_bit_for_bit_in_the_original_draw_order()
    {
        var recorder = new RecordingNoiseSource(new SeededNoiseSource(7));
        var first = await fixture.Pipeline.GenerateAsync(Request(recorder, steps: 3), null, default);
        Assert.Equal([NoiseConsumer.FlowPosterior, NoiseConsumer.InitialLatents, NoiseConsumer.SchedulerStep, NoiseConsumer.SchedulerStep,
            NoiseConsumer.SchedulerStep, NoiseConsumer.SchedulerStep], recorder.Consumers);
        var file = Path.Combine(TestData.TempFolder(), "noise.npz");
        recorder.Save(file);

        var replay = ReplayNoiseSource.Load(file);
        var second = await fixture.Pipeline.GenerateAsync(Request(replay, steps: 3), null, default);
        Assert.Equal(first.FinalLatents, second.FinalLatents);
        Assert.Equal(first.Pixels, second.Pixels);
        Assert.Equal(replay.Count, replay.DrawCount);
    }

    [Fact]
    public async Task Without_trajectories_motion_guidance_is_off_and_changes_the_result()
    {
        var guided = await fixture.Pipeline.GenerateAsync(Request(new SeededNoiseSource(3)), null, default);
        var noise = new RecordingNoiseSource(new SeededNoiseSource(3));
        var free = await fixture.Pipeline.GenerateAsync(Request(noise) with { Trajectories = [] }, null, default);
        Assert.Equal(NoiseConsumer.InitialLatents, noise.Consumers[0]); // no flow posterior draw
        Assert.Equal(3, noise.Consumers.Count);
        Assert.NotEqual(guided.FinalLatents, free.FinalLatents);
        Assert.All(free.FinalLatents!, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public async Task Without_guidance_the_transformer_runs_on_the_prompt_alone()
    {
        var noGuidance = await fixture.Pipeline.GenerateAsync(Request(new SeededNoiseSource(5)) with { GuidanceScale = 1 }, null, default);
        var guided = await fixture.Pipeline.GenerateAsync(Request(new SeededNoiseSource(5)) with { GuidanceScale = 6, DynamicCfg = false }, null, default);
        Assert.NotEqual(noGuidance.FinalLatents, guided.FinalLatents);
    }

    [Fact]
    public async Task Progress_is_reported_once_per_step_and_cancellation_stops_between_steps()
    {
        var reports = new List<GenerationProgress>();
        using var cancel = new CancellationTokenSource();
        var progress = new SyncProgress(p =>
        {
            reports.Add(p);
            if (p.Phase == "denoise" && p.Step == 2) cancel.Cancel();
        });
        var steps = new List<int>();
        var request = Request(new SeededNoiseSource(1), steps: 4) with { OnStep = (k, _) => steps.Add(k) };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fixture.Pipeline.GenerateAsync(request, progress, cancel.Token));
        Assert.Equal([0, 1], steps);
        var denoise = reports.Where(r => r.Phase == "denoise" && r.Step > 0).ToList();
        Assert.Equal([1, 2], denoise.Select(r => r.Step));
        Assert.All(denoise, r => Assert.Equal(4, r.TotalSteps));
        Assert.True(denoise[1].Elapsed >= denoise[0].Elapsed);
        Assert.Equal(["encode_text", "encode_motion", "denoise"], reports.Select(r => r.Phase).Distinct());

        // The pipeline is usable again after a cancelled job.
        var result = await fixture.Pipeline.GenerateAsync(Request(new SeededNoiseSource(1)), null, default);
        Assert.Equal(49, result.Geometry.Frames);
    }

    [Fact]
    public async Task Requests_the_package_cannot_serve_are_clear_errors()
    {
        var e = await Assert.ThrowsAsync<GenerationException>(() => fixture.Pipeline.GenerateAsync(Request(new SeededNoiseSource(1)) with { Geometry = new Tora.Motion.Trajectories.VideoGeometry(25, 64, 96) }, null, default));
        Assert.Equal((GenerationErrorCodes.UnsupportedSize, "this model package generates 49 frames of 96x64, not 25 of 96x64"), (e.Code, e.Message));
        e = await Assert.ThrowsAsync<GenerationException>(() => fixture.Pipeline.GenerateAsync(Request(new SeededNoiseSource(1)) with { FirstFrame = [1, 2, 3] }, null, default));
        Assert.Equal(GenerationErrorCodes.InvalidInput, e.Code);
        Assert.Contains("text-to-video", e.Message);
        var outside = new Tora.Motion.Trajectories.Trajectory([new(10, 10), new(300, 10)]);
        e = await Assert.ThrowsAsync<GenerationException>(() => fixture.Pipeline.GenerateAsync(Request(new SeededNoiseSource(1)) with { Trajectories = [outside] }, null, default));
        Assert.Equal(GenerationErrorCodes.InvalidInput, e.Code);
        Assert.StartsWith("invalid trajectories:", e.Message);
        e = await Assert.ThrowsAsync<GenerationException>(() => fixture.Pipeline.GenerateAsync(Request(new SeededNoiseSource(1)) with { Steps = 0 }, null, default));
        Assert.Equal(GenerationErrorCodes.InvalidInput, e.Code);
        var short_ = new ReplayNoiseSource(new Dictionary<string, Tora.Motion.IO.NpyArray> { ["noise_000"] = Tora.Motion.IO.NpyArray.FromFloats(new float[4], 4) });
        await Assert.ThrowsAsync<NoiseSourceException>(() => fixture.Pipeline.GenerateAsync(Request(short_), null, default));
    }

    [Fact]
    public async Task Low_memory_mode_releases_every_session_and_gives_the_same_video()
    {
        using var low = new ToraPipeline(ModelPackage.Open(fixture.T2VPackage), TinyPackageFixture.Cpu with { LowMemory = true });
        var loaded = new List<(string Phase, string[] Graphs)>();
        var a = await low.GenerateAsync(Request(new SeededNoiseSource(9)),
            new SyncProgress(p => loaded.Add((p.Phase, low.LoadedComponents.Order().ToArray()))), default);
        Assert.Empty(low.LoadedComponents);
        // At most the graphs of the running stage are loaded: each is unloaded after its last phase of the job.
        var at = loaded.GroupBy(l => l.Phase).ToDictionary(g => g.Key, g => g.Last().Graphs);
        Assert.Equal([ModelPackage.TrajectoryEncoder, ModelPackage.Transformer], at[GenerationPhases.Denoise]); // text and VAE encoders gone
        Assert.Empty(at[GenerationPhases.Decode]); // the loop's graphs are gone before the decoder loads
        Assert.Empty(at[GenerationPhases.EncodeVideo]);
        using var resident = new ToraPipeline(ModelPackage.Open(fixture.T2VPackage), TinyPackageFixture.Cpu);
        var b = await resident.GenerateAsync(Request(new SeededNoiseSource(9)), null, default);
        Assert.Equal(5, resident.LoadedComponents.Count);
        Assert.Equal(a.FinalLatents, b.FinalLatents);
        Assert.Equal(a.Pixels, b.Pixels);
    }

    [Fact]
    public async Task Image_to_video_conditions_on_the_first_frame_and_writes_an_mp4()
    {
        using var i2v = new ToraPipeline(ModelPackage.Open(fixture.I2VPackage), TinyPackageFixture.Cpu);
        Assert.True(i2v.Package.IsImageToVideo);
        Assert.Equal(32, i2v.Package.Manifest.Transformer.InChannels);
        var fox = File.ReadAllBytes(TestData.Path("tora-data/images/fox.png"));
        var mp4 = Path.Combine(TestData.TempFolder(), "fox.mp4");
        var noise = new RecordingNoiseSource(new SeededNoiseSource(42));
        var phases = new List<string>();
        var result = await i2v.GenerateAsync(Request(noise) with { FirstFrame = fox, OutputPath = mp4, OverlayTrajectory = true },
            new SyncProgress(r => phases.Add(r.Phase)), default);
        Assert.Equal([NoiseConsumer.ImagePosterior, NoiseConsumer.FlowPosterior, NoiseConsumer.InitialLatents], noise.Consumers.Take(3));
        // The first frame is its own phase, named as in GenerationPhases, with its own timing.
        Assert.Equal([GenerationPhases.EncodeText, GenerationPhases.EncodeImage, GenerationPhases.EncodeMotion, GenerationPhases.Denoise,
            GenerationPhases.Decode, GenerationPhases.EncodeVideo], phases.Distinct());
        Assert.Contains(GenerationPhases.EncodeImage, result.PhaseMilliseconds.Keys);
        var probe = MediaProbe.Probe(mp4);
        Assert.Equal(("h264", "yuv420p", 96, 64, 49, "8/1"), (probe.Codec, probe.PixelFormat, probe.Width, probe.Height, probe.Frames, probe.FrameRate));
        Assert.Equal(49 * 64 * 96 * 3, result.Pixels!.Length);

        // Another first frame gives another video from the same noise.
        var other = await i2v.GenerateAsync(Request(new SeededNoiseSource(42)) with { FirstFrame = Png(64, 96) }, null, default);
        Assert.NotEqual(result.FinalLatents, other.FinalLatents);
        var e = await Assert.ThrowsAsync<GenerationException>(() => i2v.GenerateAsync(Request(new SeededNoiseSource(1)), null, default));
        Assert.Contains("image-to-video", e.Message);
        e = await Assert.ThrowsAsync<GenerationException>(() => i2v.GenerateAsync(Request(new SeededNoiseSource(1)) with { FirstFrame = [1, 2, 3] }, null, default));
        Assert.Equal(GenerationErrorCodes.InvalidInput, e.Code);
    }

    [Fact]
    public async Task The_step_loop_allocates_nothing_per_step()
    {
        var allocated = new List<long>();
        var request = Request(new SeededNoiseSource(4), steps: 6) with { OnStep = (_, _) => allocated.Add(GC.GetAllocatedBytesForCurrentThread()) };
        await fixture.Pipeline.GenerateAsync(request, null, default);
        // Between the second and the last step: transformer run, guidance, DPM step and noise draws only. The median
        // step, because the runtime may allocate on this thread once on its own account (tiered compilation
        // starting its background worker), while an allocation of the loop shows in every step.
        var steps = Enumerable.Range(1, allocated.Count - 2).Select(i => allocated[i + 1] - allocated[i]).Order().ToArray();
        var median = steps[steps.Length / 2];
        Assert.True(median < 256, $"bytes allocated per step: {string.Join(", ", steps)}");
    }

    [Fact]
    public async Task A_half_precision_package_runs_with_and_without_motion_guidance()
    {
        var folder = Path.Combine(TestData.TempFolder(), "fp16");
        Tora.Models.Package.PackageBuilder.Build(TestData.Path("fixtures/tiny-tora-t2v"), folder, Tora.Models.Package.Precision.Fp16);
        using var fp16 = new ToraPipeline(ModelPackage.Open(folder), TinyPackageFixture.Cpu);
        var guided = await fp16.GenerateAsync(Request(new SeededNoiseSource(42)), null, default);
        var free = await fp16.GenerateAsync(Request(new SeededNoiseSource(42)) with { Trajectories = [] }, null, default);
        var fp32 = await fixture.Pipeline.GenerateAsync(Request(new SeededNoiseSource(42)), null, default);
        Assert.All(guided.FinalLatents!, v => Assert.True(float.IsFinite(v)));
        Assert.NotEqual(guided.FinalLatents, free.FinalLatents);
        // Same computation at lower precision: close to the float32 package, not equal.
        Assert.InRange(Tolerance.MaxAbs(fp32.FinalLatents, guided.FinalLatents), 1e-7, 0.1);
    }

    [Fact]
    public void A_first_frame_loses_its_alpha_channel_and_is_resized_to_the_model()
    {
        // A half-transparent red image: PIL's convert("RGB") keeps the stored colour, it does not blend with white.
        using var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(4, 2, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Unpremul));
        bitmap.Erase(new SkiaSharp.SKColor(200, 10, 20, 128));
        using var png = SkiaSharp.SKImage.FromBitmap(bitmap).Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        var rgb = FirstFrameEncoder.DecodeRgb(png.ToArray(), 4, 2);
        Assert.Equal(Enumerable.Repeat(new byte[] { 200, 10, 20 }, 8).SelectMany(x => x), rgb);
        var resized = FirstFrameEncoder.DecodeRgb(png.ToArray(), 8, 6);
        Assert.Equal(8 * 6 * 3, resized.Length);
        Assert.All(resized.Chunk(3), p => Assert.Equal([200, 10, 20], p));
    }

    [Fact]
    public void First_frames_are_resized_as_pillow_does()
    {
        // Two pixels to one: both bicubic taps weigh 0.5 after normalisation; 2^21 + 255·2^21 = 2^29 → 128.
        Assert.Equal([128, 128, 128], PillowBicubicResize.Resize([0, 0, 0, 255, 255, 255], 2, 1, 1, 1));
        // A flat image stays flat whatever the scale (normalised weights, rounding offset of half a unit).
        var flat = Enumerable.Repeat((byte)77, 37 * 23 * 3).ToArray();
        Assert.All(PillowBicubicResize.Resize(flat, 37, 23, 9, 31), v => Assert.Equal(77, v));
        // Same size: untouched.
        var noise = Enumerable.Range(0, 5 * 4 * 3).Select(i => (byte)(i * 37 % 256)).ToArray();
        Assert.Equal(noise, PillowBicubicResize.Resize(noise, 5, 4, 5, 4));
        // Shrinking averages (antialiasing): a 1-pixel checkerboard becomes mid-grey, not aliased stripes.
        var checker = new byte[64 * 64 * 3];
        for (int y = 0; y < 64; y++) for (int x = 0; x < 64; x++) if ((x + y) % 2 == 0) checker.AsSpan((y * 64 + x) * 3, 3).Fill(255);
        Assert.All(PillowBicubicResize.Resize(checker, 64, 64, 8, 8), v => Assert.InRange(v, 120, 135));
        // Mirror symmetry of the filter: a mirrored input gives the mirrored output.
        var ramp = new byte[7 * 1 * 3];
        for (int x = 0; x < 7; x++) ramp.AsSpan(x * 3, 3).Fill((byte)(x * x * 5));
        var mirrored = ramp.Chunk(3).Reverse().SelectMany(p => p).ToArray();
        var a = PillowBicubicResize.Resize(ramp, 7, 1, 3, 1);
        var b = PillowBicubicResize.Resize(mirrored, 7, 1, 3, 1);
        Assert.Equal(a, b.Chunk(3).Reverse().SelectMany(p => p).ToArray());
    }

    [Fact]
    public void Packages_that_cannot_run_are_refused_with_a_clear_message()
    {
        var e = Assert.Throws<GenerationException>(() => ModelPackage.Open(Path.Combine(TestData.TempFolder(), "nope")));
        Assert.Contains("does not exist", e.Message);
        e = Assert.Throws<GenerationException>(() => ModelPackage.Open(TestData.TempFolder()));
        Assert.Contains("manifest.json is missing", e.Message);

        var copy = CopyPackage();
        var manifest = Path.Combine(copy, "manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace($"\"format_version\": {ModelManifest.CurrentFormatVersion}", "\"format_version\": 7"));
        e = Assert.Throws<GenerationException>(() => ModelPackage.Open(copy));
        Assert.Equal(GenerationErrorCodes.ModelUnavailable, e.Code);
        Assert.Contains("format version 7 is not supported", e.Message);

        copy = CopyPackage();
        manifest = Path.Combine(copy, "manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"model_type\": \"tora-t2v\"", "\"model_type\": \"cogvideox-t2v\""));
        Assert.Contains("model type 'cogvideox-t2v'", Assert.Throws<GenerationException>(() => ModelPackage.Open(copy)).Message);

        copy = CopyPackage();
        File.Delete(Path.Combine(copy, "vae_decoder.onnx"));
        Assert.Contains("vae_decoder.onnx (vae_decoder) is missing", Assert.Throws<GenerationException>(() => ModelPackage.Open(copy)).Message);
    }

    [Fact]
    public async Task The_VAE_sessions_run_without_the_CPU_arena_and_the_other_graphs_with_it()
    {
        var lines = new List<string>();
        using var pipeline = new ToraPipeline(ModelPackage.Open(fixture.T2VPackage), TinyPackageFixture.Cpu with { Log = lines.Add });
        await pipeline.GenerateAsync(Request(new SeededNoiseSource(3)), null, default);
        var created = lines.Where(l => l.Contains(": session created in ", StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf(':')], l => l.EndsWith(" (CPU arena off)", StringComparison.Ordinal));
        Assert.Equal(new Dictionary<string, bool>
        {
            [ModelPackage.TextEncoder] = false, [ModelPackage.VaeEncoder] = true, [ModelPackage.TrajectoryEncoder] = false,
            [ModelPackage.Transformer] = false, [ModelPackage.VaeDecoder] = true,
        }, created);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Session_options_carry_the_CPU_arena_choice(bool cpuArena)
    {
        var factory = new OrtSessionFactory(TinyPackageFixture.Cpu);
        using var options = factory.CreateOptions(cpuArena);
        Assert.Equal(cpuArena, options.EnableCpuMemArena);
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_ALL, options.GraphOptimizationLevel);
    }

    [Fact]
    public void Cuda_settings_are_the_products_with_the_overrides_on_top()
    {
        Assert.Equal(new Dictionary<string, string>
        {
            ["device_id"] = "1", ["arena_extend_strategy"] = "kSameAsRequested", ["cudnn_conv_algo_search"] = "EXHAUSTIVE",
        }, OrtSessionFactory.CudaSettings(1));
        var tuned = OrtSessionFactory.CudaSettings(0, new Dictionary<string, string> { ["sdpa_kernel"] = "8", ["cudnn_conv_algo_search"] = "HEURISTIC" });
        Assert.Equal("8", tuned["sdpa_kernel"]);
        Assert.Equal("HEURISTIC", tuned["cudnn_conv_algo_search"]);
        Assert.Equal("kSameAsRequested", tuned["arena_extend_strategy"]);
        Assert.Equal("0", tuned["device_id"]);
    }

    [Fact]
    public void The_execution_provider_choice_is_logged_and_never_silent()
    {
        var lines = new List<string>();
        var cpu = new OrtSessionFactory(new ExecutionOptions { Provider = ExecutionProviderChoice.Cpu, Log = lines.Add });
        Assert.Equal(OrtSessionFactory.CpuProvider, cpu.ProviderName);
        var auto = new OrtSessionFactory(new ExecutionOptions { Log = lines.Add });
        Assert.Equal(2, lines.Count);
        Assert.Equal("execution provider: CPUExecutionProvider (the CPU provider was requested)", lines[0]);
        Assert.False(cpu.FellBack);
        Assert.StartsWith("execution provider: ", lines[1]);
        if (auto.ProviderName == OrtSessionFactory.CpuProvider)
        {
            // No usable CUDA here: the fallback says so loudly and why, and requiring CUDA fails instead of falling back.
            Assert.True(auto.FellBack);
            Assert.StartsWith("execution provider: CPUExecutionProvider, FALLING BACK TO CPU: CUDA is not usable (", lines[1]);
            var e = Assert.Throws<GenerationException>(() => new OrtSessionFactory(new ExecutionOptions { Provider = ExecutionProviderChoice.Cuda }));
            Assert.Contains("CUDA execution provider cannot be used", e.Message);
        }
        else
        {
            Assert.Contains("CUDA device 0 is usable", lines[1]);
        }
    }

    private string CopyPackage()
    {
        var copy = TestData.TempFolder("tora-package");
        foreach (var f in Directory.GetFiles(fixture.T2VPackage)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        Directory.CreateDirectory(Path.Combine(copy, "tokenizer"));
        foreach (var f in Directory.GetFiles(Path.Combine(fixture.T2VPackage, "tokenizer"))) File.Copy(f, Path.Combine(copy, "tokenizer", Path.GetFileName(f)));
        return copy;
    }

    private static byte[] Png(int height, int width)
    {
        using var bitmap = new SkiaSharp.SKBitmap(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) bitmap.SetPixel(x, y, new SkiaSharp.SKColor((byte)(x * 2), (byte)(y * 3), 90));
        using var png = SkiaSharp.SKImage.FromBitmap(bitmap).Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    private sealed class SyncProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}
