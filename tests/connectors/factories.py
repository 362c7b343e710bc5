from connectors import services
from connectors.models import Connection, ConnectionInvocation, Connector, SlackIdentity
from tests.alerts.factories import make_incident, make_source
from tests.factories import UserFactory, register

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes


def make_connector(tenant, kind="webhook", name=None, settings=None, credentials=None):
    defaults = {
        "webhook": ({"url": "https://hooks.example.com/ilert"}, {"signing_secrets": [SECRET]}),
        "jira": ({"base_url": "https://acme.atlassian.net", "deployment": "cloud", "email": "bot@acme.test"},
                 {"token": "jira-api-token-0123456789"}),
        "slack": ({"mode": "bot", "default_channel": "#ops"},
                  {"bot_token": "xoxb-1111-2222-slacktokensecret", "signing_secret": "8f742231b10e8888abcd99yyyzzz85a5"}),
        "teams": ({}, {"webhook_url": "https://acme.webhook.office.com/webhookb2/abc/IncomingWebhook/def/secretpart"}),
        "azure_function": ({"url": "https://acme-fn.azurewebsites.net/api/on-incident"},
                           {"function_key": "azure-function-key-0123456789"}),
        "aws_lambda": ({"region": "eu-central-1", "function_name": "on-incident"},
                       {"access_key_id": "AKIAEXAMPLEKEYID0001", "secret_access_key": "aws-secret-access-key-0123456789"}),
    }
    default_settings, default_credentials = defaults.get(kind, ({}, {}))
    return services.create_connector(
        tenant, kind=kind, name=name or f"{kind} {Connector.objects.count() + 1}",
        settings=default_settings if settings is None else settings,
        credentials=default_credentials if credentials is None else credentials,
    )


def make_connection(tenant, *, connector=None, source=None, events=None, params=None, trigger_mode="automatic"):
    connector = connector or make_connector(tenant)
    source = source or make_source(tenant)
    return services.create_connection(source, connector, events=events, params=params, trigger_mode=trigger_mode)


def make_invocation(tenant):
    connection = make_connection(tenant, trigger_mode="manual")
    incident = make_incident(source=connection.alert_source)
    return services.run_now(connection, incident)


def make_slack_identity(tenant):
    return services.link_slack_user(tenant, slack_user_id=f"U{SlackIdentity.objects.count() + 100}",
                                    user=UserFactory(tenant=tenant))


register(Connector, make_connector)
register(Connection, make_connection)
register(ConnectionInvocation, make_invocation)
register(SlackIdentity, make_slack_identity)
