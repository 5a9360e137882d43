namespace Imagebin.Features.Discovery;

public static class OpenApiReferencePage
{
    public static IResult Render(OpenApiSnapshot snapshot) => Authority.Html.Page("API reference", "");
}
