"""Azure Functions: POST the incident to an HTTP-triggered function, authenticated with a function
key in the `x-functions-key` header (never in the URL, where it would be logged)."""

from ilert import clock

from .base import Field, Outcome, Target, http_call
from .webhook import BODY_HELP, build_body


class AzureFunction(Target):
    kind = "azure_function"
    label = "Azure Functions"
    actions = {"invoke": "Call the function with the incident"}
    description = "Call an HTTP-triggered Azure Function with a function key."
    settings_fields = [Field("url", "Function URL", "url", required=True,
                             placeholder="https://my-app.azurewebsites.net/api/on-incident")]
    destination_settings = ("url",)
    credential_fields = [Field("function_key", "Function key", required=True)]
    param_fields = [Field("body_template", "Custom body (Jinja2)", "json_template", help=BODY_HELP)]

    def _post(self, ctx, body):
        headers = {"x-functions-key": ctx.credentials["function_key"], "Content-Type": "application/json"}
        return http_call(ctx, "POST", ctx.settings["url"], "Azure Function", json=body, headers=headers)

    def deliver(self, ctx):
        response = self._post(ctx, build_body(ctx))
        return Outcome(True, f"Function answered HTTP {response.status_code}", http_status=response.status_code)

    def check(self, ctx):
        response = self._post(ctx, {"type": "ilert.test", "timestamp": clock.now().isoformat()})
        return Outcome(True, f"The function answered HTTP {response.status_code}.", http_status=response.status_code)
