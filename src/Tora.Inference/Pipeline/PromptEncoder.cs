using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Package;
using Tora.Inference.Text;

namespace Tora.Inference.Pipeline;

/// <summary>
/// Prompt → T5 embedding <c>[226, D]</c> (docs/model.md §4.1): the tokenizer's ids (no BOS, EOS appended, padded
/// to the package's text length) through the <c>text_encoder</c> graph, no attention mask (as the pipeline calls it).
/// The negative prompt (diffusers semantics: T5 of the negative prompt, docs/model.md §5.4) is the same for almost every job, so
/// its embedding is cached by text. Packages imported from SAT checkpoints follow SAT instead
/// (<paramref name="zeroUnconditional"/>): its <c>force_uc_zero_embeddings</c> gives the unconditional branch an
/// all-zero embedding for the default empty negative prompt; a non-empty negative prompt, which SAT has no way to
/// give, is still encoded.
/// </summary>
public sealed class PromptEncoder(T5Tokenizer tokenizer, int textLength, int embedDim, bool zeroUnconditional = false)
{
    private string? _cachedNegative;
    private float[]? _cachedNegativeEmbedding;

    /// <summary>Values of one embedding: text length × D.</summary>
    public int EmbeddingLength => textLength * embedDim;

    /// <summary>The padded token ids of <paramref name="text"/>.</summary>
    public long[] Tokenize(string text) => tokenizer.Encode(text, textLength);

    /// <summary>The embedding of <paramref name="prompt"/> <c>[226, D]</c>.</summary>
    public float[] Encode(InferenceSession session, string prompt)
    {
        var ids = Tokenize(prompt);
        using var input = OrtValue.CreateTensorValueFromMemory(ids, [1, textLength]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [GraphNames.TextEncoder.InputIds], [input], [GraphNames.TextEncoder.LastHiddenState]);
        var values = outputs[0].GetTensorDataAsSpan<float>();
        if (values.Length != EmbeddingLength)
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable,
                $"text encoder gave {values.Length} values per prompt, expected {textLength} x {embedDim}");
        return values.ToArray();
    }

    /// <summary>
    /// The transformer's text input for one job: <c>[uncond, cond]</c> (<c>[2, 226, D]</c>) when guidance is on, the
    /// prompt's embedding alone (<c>[1, 226, D]</c>) when it is off (docs/model.md §5.3: batch order uncond first).
    /// </summary>
    public float[] EncodeForGuidance(InferenceSession session, string prompt, string negativePrompt, bool guidance)
    {
        var cond = Encode(session, prompt);
        if (!guidance) return cond;
        var batch = new float[2 * EmbeddingLength];
        if (!(zeroUnconditional && negativePrompt.Length == 0)) // SAT, empty negative prompt: the unconditional half stays all zeros
        {
            if (_cachedNegative != negativePrompt || _cachedNegativeEmbedding is null)
            {
                _cachedNegativeEmbedding = Encode(session, negativePrompt);
                _cachedNegative = negativePrompt;
            }
            _cachedNegativeEmbedding.CopyTo(batch, 0);
        }
        cond.CopyTo(batch, EmbeddingLength);
        return batch;
    }

    /// <summary>Whether the embedding of <paramref name="negativePrompt"/> is cached.</summary>
    public bool HasCachedNegative(string negativePrompt) => _cachedNegative == negativePrompt && _cachedNegativeEmbedding is not null;
}
