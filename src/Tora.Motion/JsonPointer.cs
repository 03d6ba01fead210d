namespace Tora.Motion;

/// <summary>JSON pointers (RFC 6901) of the values System.Text.Json complains about.</summary>
public static class JsonPointer
{
    /// <summary>Converts System.Text.Json's <c>$.a[0].b</c> paths to JSON pointers (<c>/a/0/b</c>); "" for the root.</summary>
    public static string FromPath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$") return "";
        var sb = new System.Text.StringBuilder();
        var i = path.StartsWith('$') ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                if (end < 0) end = path.Length;
                sb.Append('/').Append(Escape(path[(i + 1)..end]));
                i = end;
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i);
                if (end < 0) break;
                var inner = path[(i + 1)..end];
                sb.Append('/').Append(Escape(inner.Trim('\'')));
                i = end + 1;
            }
            else i++;
        }
        return sb.ToString();
    }

    /// <summary>Escapes one reference token (<c>~</c> → <c>~0</c>, <c>/</c> → <c>~1</c>).</summary>
    public static string Escape(string segment) => segment.Replace("~", "~0").Replace("/", "~1");
}
