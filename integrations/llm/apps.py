from django.apps import AppConfig


class LlmAppConfig(AppConfig):  # not LlmConfig: that is the endpoint settings (client.py)
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.llm"
    label = "llm"
    verbose_name = "LLM summary rewrite"
