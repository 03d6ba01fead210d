using Tora.Contracts;
using Tora.Inference.Text;

namespace Tora.Inference.Pipeline;

/// <summary>
/// The T5 text encoder of a package (docs/model.md §4.1) with its tokenizer and the package's text configuration:
/// turns the prompt and the negative prompt into the transformer's text input through <see cref="PromptEncoder"/>.
/// </summary>
public sealed class TextEncoderModel : ModelComponent
{
    private TextEncoderModel(ModelPackage package, OrtSessionFactory factory, Action<string> log, PromptEncoder prompts)
        : base(ModelPackage.TextEncoder, package, factory, log) => Prompts = prompts;

    /// <summary>The tokenizer and the negative-prompt cache.</summary>
    public PromptEncoder Prompts { get; }

    /// <summary>Loads the package's tokenizer (the session is created on first use).</summary>
    /// <exception cref="GenerationException">The tokenizer cannot be loaded (code <c>model_unavailable</c>).</exception>
    public static TextEncoderModel Open(ModelPackage package, OrtSessionFactory factory, Action<string> log)
    {
        T5Tokenizer tokenizer;
        try
        {
            tokenizer = T5Tokenizer.Load(package.TokenizerFolder);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException or ArgumentException)
        {
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable, $"{package.TokenizerFolder}: the tokenizer cannot be loaded: {e.Message}");
        }
        var m = package.Manifest;
        // SAT-imported packages: the unconditional branch is all zeros (docs/model.md §5.4).
        var prompts = new PromptEncoder(tokenizer, m.TextLength, m.Transformer.TextEmbedDim,
            zeroUnconditional: m.Source.Semantics?.UnconditionalText == "zeros");
        return new TextEncoderModel(package, factory, log, prompts);
    }

    /// <summary>
    /// diffusers' <c>encode_prompt</c>: <c>[negative, prompt]</c> embeddings batched when classifier-free guidance is
    /// on, the prompt's alone when it is off (docs/model.md §5.3, §5.4).
    /// </summary>
    public float[] EncodePrompt(string prompt, string negativePrompt, bool doClassifierFreeGuidance) =>
        Prompts.EncodeForGuidance(Session, prompt, negativePrompt, doClassifierFreeGuidance);
}
