using Tora.Motion.IO;
using Tora.Inference.Noise;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Sampling;

public class NoiseSourceTests
{
    private static readonly int[] FlowShape = [1, 16, 13, 8, 12];
    private static readonly int[] LatentShape = [1, 13, 16, 8, 12];
    private static readonly string LoopPath = TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz");

    [Fact]
    public void Seeded_source_skips_a_draw_without_changing_the_rest_of_the_stream()
    {
        var reference = NpzFile.Read(LoopPath);
        var source = new SeededNoiseSource(42);
        source.Skip(FlowShape, NoiseConsumer.FlowPosterior);
        var latents = new float[13 * 16 * 8 * 12];
        source.Draw(LatentShape, latents, NoiseConsumer.InitialLatents);
        TorchGeneratorTests.AssertBitwiseEqual(reference["noise_001"].ToFloats(), latents, "noise_001");
        Assert.Equal(2, source.DrawCount);
    }

    [Fact]
    public void Replay_gives_the_recorded_draws_in_order_and_fails_clearly_past_the_end()
    {
        var source = ReplayNoiseSource.Load(LoopPath);
        Assert.Equal(8, source.Count);
        var reference = NpzFile.Read(LoopPath);
        var buffer = new float[13 * 16 * 8 * 12];
        source.Draw(FlowShape, buffer, NoiseConsumer.FlowPosterior);
        TorchGeneratorTests.AssertBitwiseEqual(reference["noise_000"].ToFloats(), buffer, "noise_000");
        source.Draw(LatentShape, buffer, NoiseConsumer.InitialLatents);
        for (var i = 2; i < 8; i++) source.Skip(LatentShape, NoiseConsumer.SchedulerStep);
        var error = Assert.Throws<NoiseSourceException>(() => source.Draw(LatentShape, buffer, NoiseConsumer.SchedulerStep));
        Assert.Contains("holds 8 draws", error.Message);
        Assert.Contains("SchedulerStep [1, 13, 16, 8, 12]", error.Message);
    }

    [Fact]
    public void Replay_refuses_a_draw_of_another_shape_and_names_both_shapes()
    {
        var source = ReplayNoiseSource.Load(LoopPath);
        var buffer = new float[13 * 16 * 8 * 12];
        var error = Assert.Throws<NoiseSourceException>(() => source.Draw(LatentShape, buffer, NoiseConsumer.InitialLatents));
        Assert.Contains("noise_000 has shape [1, 16, 13, 8, 12]", error.Message);
        Assert.Contains("needs [1, 13, 16, 8, 12]", error.Message);
        Assert.Equal(0, source.DrawCount);
    }

    [Fact]
    public void Replay_refuses_files_without_draws_or_with_gaps()
    {
        var dir = TestData.TempFolder();
        var empty = Path.Combine(dir, "empty.npz");
        NpzFile.Write(empty, [new("latents", NpyArray.FromFloats([1f], 1))]);
        Assert.Contains("no noise_000", Assert.Throws<NoiseSourceException>(() => ReplayNoiseSource.Load(empty)).Message);
        var gap = Path.Combine(dir, "gap.npz");
        NpzFile.Write(gap, [new("noise_000", NpyArray.FromFloats([1f], 1)), new("noise_002", NpyArray.FromFloats([1f], 1))]);
        Assert.Contains("noise_002 follows a gap", Assert.Throws<NoiseSourceException>(() => ReplayNoiseSource.Load(gap)).Message);
        var doubles = Path.Combine(dir, "f8.npz");
        NpzFile.Write(doubles, [new("noise_000", NpyArray.FromDoubles([1.0], 1))]);
        Assert.Contains("expected float32", Assert.Throws<NoiseSourceException>(() => ReplayNoiseSource.Load(doubles)).Message);
        var missing = Path.Combine(dir, "missing.npz");
        Assert.Throws<FileNotFoundException>(() => ReplayNoiseSource.Load(missing));
    }

    [Fact]
    public void Recording_writes_every_draw_including_skipped_ones_and_replays_identically()
    {
        var recorder = new RecordingNoiseSource(new SeededNoiseSource(99));
        var a = new float[5];
        recorder.Draw([5], a, NoiseConsumer.InitialLatents);
        recorder.Skip([2, 20], NoiseConsumer.SchedulerStep);
        var c = new float[40];
        recorder.Draw([2, 20], c, NoiseConsumer.SchedulerStep);
        Assert.Equal([NoiseConsumer.InitialLatents, NoiseConsumer.SchedulerStep, NoiseConsumer.SchedulerStep], recorder.Consumers);

        var path = Path.Combine(TestData.TempFolder(), "noise.npz");
        recorder.Save(path);
        var replay = ReplayNoiseSource.Load(path);
        Assert.Equal(3, replay.Count);
        var a2 = new float[5];
        replay.Draw([5], a2, NoiseConsumer.InitialLatents);
        var skipped = new float[40];
        replay.Draw([2, 20], skipped, NoiseConsumer.SchedulerStep);
        var c2 = new float[40];
        replay.Draw([2, 20], c2, NoiseConsumer.SchedulerStep);
        TorchGeneratorTests.AssertBitwiseEqual(a, a2, "first");
        TorchGeneratorTests.AssertBitwiseEqual(c, c2, "third");

        var direct = new TorchGenerator(99);
        var expectedSkipped = new float[40];
        direct.Randn(new float[5]);
        direct.Randn(expectedSkipped);
        TorchGeneratorTests.AssertBitwiseEqual(expectedSkipped, skipped, "skipped draw");
    }

    [Fact]
    public void Draw_into_a_buffer_of_the_wrong_size_is_an_argument_error()
    {
        var source = new SeededNoiseSource(1);
        Assert.Throws<ArgumentException>(() => source.Draw([2, 3], new float[5], NoiseConsumer.InitialLatents));
    }
}

public class NoiseSourcesTests
{
    [Fact]
    public void Options_choose_seeded_replay_and_recording_sources()
    {
        var (seeded, none) = NoiseSources.Open(42, null, record: false);
        Assert.IsType<SeededNoiseSource>(seeded);
        Assert.Null(none);
        var (recording, recorder) = NoiseSources.Open(42, TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz"), record: true);
        Assert.Same(recording, recorder);
        var buffer = new float[16 * 13 * 8 * 12];
        recording.Draw([1, 16, 13, 8, 12], buffer, NoiseConsumer.FlowPosterior);
        var path = Path.Combine(TestData.TempFolder(), "rec.npz");
        recorder!.Save(path);
        Assert.Equal(1, ReplayNoiseSource.Load(path).Count);
        Assert.Throws<FileNotFoundException>(() => NoiseSources.Open(1, "/nonexistent/noise.npz", record: false));
    }
}
