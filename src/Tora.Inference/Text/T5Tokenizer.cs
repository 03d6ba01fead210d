using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Tora.Inference.Text;

/// <summary>
/// The T5 tokenizer as the CogVideoX/Tora pipelines call transformers' slow <c>T5Tokenizer</c> (legacy mode,
/// docs/model.md §4.1): the SentencePiece Unigram model on the text between
/// added tokens (<c>&lt;extra_id_N&gt;</c>, which eat the whitespace around them, and the literal special tokens
/// <c>&lt;/s&gt;</c>, <c>&lt;pad&gt;</c>, <c>&lt;unk&gt;</c>), no BOS, EOS appended unless the text already ends with
/// it, truncated to leave room for the EOS, right-padded with the pad id to <c>max_length</c> (226).
/// Microsoft.ML.Tokenizers 2.0.1 loads the model (after the <c>bos_id</c> patch) and normalizes the text (NFKC
/// charsmap, whitespace, dummy prefix); the segmentation itself is <see cref="UnigramModel"/>, because the
/// library's Viterbi breaks float ties differently from SentencePiece ("1,000,000") and does not merge runs of
/// unknown characters.
/// </summary>
public sealed class T5Tokenizer
{
    /// <summary>CogVideoX's <c>max_sequence_length</c>.</summary>
    public const int DefaultMaxLength = 226;

    private readonly SentencePieceTokenizer _sentencePiece;
    private readonly UnigramModel _unigram;
    private readonly AddedToken[] _addedTokens;

    private T5Tokenizer(SentencePieceTokenizer sentencePiece, UnigramModel unigram, AddedToken[] addedTokens, int padId, int eosId)
    {
        _sentencePiece = sentencePiece;
        _unigram = unigram;
        _addedTokens = addedTokens;
        PadId = padId;
        EosId = eosId;
    }

    /// <summary>Id of <c>&lt;pad&gt;</c> (0 for T5).</summary>
    public int PadId { get; }

    /// <summary>Id of <c>&lt;/s&gt;</c> (1 for T5).</summary>
    public int EosId { get; }

    /// <summary>Id of <c>&lt;unk&gt;</c> (2 for T5).</summary>
    public int UnknownId => _unigram.UnknownId;

    /// <summary>
    /// Loads a Hugging Face tokenizer folder: <c>spiece.model</c>, and <c>added_tokens.json</c> when present
    /// (otherwise the 100 <c>&lt;extra_id_N&gt;</c> tokens T5 defines after the SentencePiece vocabulary).
    /// </summary>
    public static T5Tokenizer Load(string directory)
    {
        var model = Path.Combine(directory, "spiece.model");
        if (!File.Exists(model)) throw new FileNotFoundException($"tokenizer folder '{directory}' has no spiece.model", model);
        var added = Path.Combine(directory, "added_tokens.json");
        IReadOnlyDictionary<string, int>? addedTokens = null;
        if (File.Exists(added))
        {
            try
            {
                addedTokens = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(added))
                    ?? throw new InvalidDataException($"'{added}' is empty");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"'{added}' is not a JSON object of token → id: {e.Message}");
            }
        }
        using var stream = File.OpenRead(model);
        return Create(stream, addedTokens);
    }

    /// <summary>Creates the tokenizer from a SentencePiece model and optional added tokens (token → id).</summary>
    public static T5Tokenizer Create(Stream sentencePieceModel, IReadOnlyDictionary<string, int>? addedTokens = null)
    {
        using var buffer = new MemoryStream();
        sentencePieceModel.CopyTo(buffer);
        SentencePieceTokenizer sp;
        UnigramModel unigram;
        try
        {
            var patched = SentencePieceModelPatch.WithUsableBosId(buffer.ToArray());
            sp = SentencePieceTokenizer.Create(new MemoryStream(patched), addBeginningOfSentence: false, addEndOfSentence: false);
            unigram = new UnigramModel(patched);
        }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"not a usable SentencePiece model: {e.Message}");
        }
        var vocabulary = sp.Vocabulary;
        int Required(string piece) => vocabulary.TryGetValue(piece, out var id)
            ? id
            : throw new InvalidDataException($"the SentencePiece model has no '{piece}' piece, which T5 needs");
        var eos = Required("</s>");
        var pad = Required("<pad>");
        var unk = Required("<unk>");

        var tokens = new List<AddedToken> { new("</s>", eos, false), new("<pad>", pad, false), new("<unk>", unk, false) };
        if (addedTokens is null)
        {
            // transformers' T5Tokenizer(extra_ids=100): <extra_id_0> is the last id.
            var size = unigram.PieceCount;
            for (var i = 0; i < 100; i++) tokens.Add(new AddedToken($"<extra_id_{i}>", size + 99 - i, true));
        }
        else
        {
            foreach (var (text, id) in addedTokens)
            {
                if (tokens.Any(t => t.Text == text)) continue;
                // extra ids are AddedToken(lstrip=True, rstrip=True) in transformers' T5Tokenizer.
                tokens.Add(new AddedToken(text, id, text.StartsWith("<extra_id_", StringComparison.Ordinal)));
            }
        }
        return new T5Tokenizer(sp, unigram, tokens.ToArray(), pad, eos);
    }

    /// <summary>The ids of <paramref name="text"/> with the EOS appended, not truncated or padded.</summary>
    public IReadOnlyList<int> EncodeUntruncated(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = EncodeWithoutEos(text);
        if (ids.Count == 0 || ids[^1] != EosId) ids.Add(EosId);
        return ids;
    }

    /// <summary>
    /// <c>input_ids</c> of the length of <paramref name="destination"/> (the max length) into it; returns the number
    /// of real (non-pad) tokens, i.e. the <c>attention_mask</c> sum.
    /// </summary>
    public int Encode(string text, Span<long> destination)
    {
        ArgumentNullException.ThrowIfNull(text);
        var maxLength = destination.Length;
        if (maxLength < 1) throw new ArgumentException("max length must be at least 1", nameof(destination));
        var ids = EncodeWithoutEos(text);
        // prepare_for_model: truncate so that the sequence plus its one special token fits, then add the EOS.
        if (ids.Count + 1 > maxLength) ids.RemoveRange(maxLength - 1, ids.Count - (maxLength - 1));
        if (ids.Count == 0 || ids[^1] != EosId) ids.Add(EosId);
        for (var i = 0; i < maxLength; i++) destination[i] = i < ids.Count ? ids[i] : PadId;
        return ids.Count;
    }

    /// <summary><c>input_ids</c> padded/truncated to <paramref name="maxLength"/> (226 by default).</summary>
    public long[] Encode(string text, int maxLength = DefaultMaxLength)
    {
        var ids = new long[maxLength];
        Encode(text, ids);
        return ids;
    }

    private List<int> EncodeWithoutEos(string text)
    {
        var ids = new List<int>();
        foreach (var segment in Split(text))
        {
            if (segment.Token is { } token) ids.Add(token.Id);
            else if (segment.Text.Length > 0) _unigram.Encode(Normalize(segment.Text), ids);
        }
        return ids;
    }

    /// <summary>
    /// SentencePiece normalization of one segment (precompiled NFKC charsmap, whitespace collapsed and escaped
    /// as ▁, dummy prefix), as the library's encoder applies it; its public <c>Normalizer.Normalize</c> skips the
    /// charsmap, so the normalized text is taken from <c>EncodeToTokens</c>.
    /// </summary>
    internal string Normalize(string text)
    {
        _sentencePiece.EncodeToTokens(text, out var normalized, addBeginningOfSentence: false, addEndOfSentence: false);
        return normalized ?? throw new InvalidOperationException("the SentencePiece model has no normalizer");
    }

    /// <summary>transformers' <c>tokenize</c>: split on added tokens (earliest, then longest match); a token
    /// with lstrip/rstrip removes the whitespace of the neighbouring text.</summary>
    private List<Segment> Split(string text)
    {
        var segments = new List<Segment>();
        var start = 0;
        var i = 0;
        while (i < text.Length)
        {
            AddedToken? match = null;
            if (text[i] == '<')
            {
                foreach (var t in _addedTokens)
                {
                    if ((match is null || t.Text.Length > match.Text.Length)
                        && string.CompareOrdinal(text, i, t.Text, 0, t.Text.Length) == 0)
                        match = t;
                }
            }
            if (match is null)
            {
                i++;
                continue;
            }
            segments.Add(new Segment(text[start..i], null));
            segments.Add(new Segment(match.Text, match));
            i += match.Text.Length;
            start = i;
        }
        segments.Add(new Segment(text[start..], null));

        for (var k = 0; k < segments.Count; k++)
        {
            if (segments[k].Token is not { Strip: true }) continue;
            if (k + 1 < segments.Count && segments[k + 1].Token is null)
                segments[k + 1] = segments[k + 1] with { Text = segments[k + 1].Text.TrimStart(PythonWhitespace) };
            if (k > 0 && segments[k - 1].Token is null)
                segments[k - 1] = segments[k - 1] with { Text = segments[k - 1].Text.TrimEnd(PythonWhitespace) };
        }
        return segments;
    }

    /// <summary>The characters Python's <c>str.strip()</c> removes.</summary>
    private static readonly char[] PythonWhitespace = Enumerable.Range(0, 0x3001)
        .Select(c => (char)c)
        .Where(c => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f')
        .ToArray();

    private sealed record AddedToken(string Text, int Id, bool Strip);

    private readonly record struct Segment(string Text, AddedToken? Token);
}
