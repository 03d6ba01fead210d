namespace Tora.Inference.Noise;

/// <summary>Builds the noise source of a generation from the user's options (<c>--seed</c>, <c>--noise</c>,
/// <c>--record-noise</c>).</summary>
public static class NoiseSources
{
    /// <summary>
    /// A replay of <paramref name="replayPath"/> when given (the seed is then unused), else the stream of
    /// <paramref name="seed"/>; wrapped in a recorder when <paramref name="record"/> is set (save it with
    /// <see cref="RecordingNoiseSource.Save"/> after the generation).
    /// </summary>
    public static (INoiseSource Source, RecordingNoiseSource? Recorder) Open(ulong seed, string? replayPath, bool record)
    {
        INoiseSource source = replayPath is null ? new SeededNoiseSource(seed) : ReplayNoiseSource.Load(replayPath);
        if (!record) return (source, null);
        var recorder = new RecordingNoiseSource(source);
        return (recorder, recorder);
    }
}
