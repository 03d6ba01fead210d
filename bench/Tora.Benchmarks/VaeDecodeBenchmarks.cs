using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Vae;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;

namespace Tora.Benchmarks;

/// <summary>
/// The chunked VAE decode (chunks 3, 2, 2, 2, 2, 2 with the causal caches carried by IOBinding) of the tiny
/// T2V fixture's VAE on the ONNX Runtime CPU provider: 13 × 8 × 12 latents → 49 × 64 × 96 frames.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class VaeDecodeBenchmarks
{
    private SessionOptions? _options;
    private InferenceSession? _session;
    private VaeDecoder? _decoder;
    private float[] _latents = [];

    [GlobalSetup]
    public void Setup()
    {
        var folder = Path.Combine(RepositoryRoot(), "tests", "data", "fixtures", "tiny-tora-t2v", "vae");
        var config = CogVideoXVaeConfig.Load(Path.Combine(folder, "config.json"));
        using var ckpt = Checkpoint.Open(folder);
        int f = config.SpatialCompression;
        var graph = CogVideoXVae.BuildDecoderChunk(ckpt, config);
        _options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
        _session = new InferenceSession(graph.ToBytes(), _options);
        _decoder = new VaeDecoder(_session, config.ScalingFactor, config.SampleHeight / f, config.SampleWidth / f);
        var random = new Random(7);
        _latents = new float[13 * config.LatentChannels * _decoder.LatentHeight * _decoder.LatentWidth];
        for (int i = 0; i < _latents.Length; i++) _latents[i] = (float)(random.NextDouble() * 2 - 1);
    }

    [Benchmark]
    public byte[] DecodeTinyToUint8() => _decoder!.DecodeToUint8(_latents, 13, FrameLayout.FramesFirst);

    [GlobalCleanup]
    public void Cleanup()
    {
        _decoder?.Dispose();
        _session?.Dispose();
        _options?.Dispose();
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Tora.Server.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("run the benchmarks from inside the repository (Tora.Server.sln not found above the binaries)");
    }
}
