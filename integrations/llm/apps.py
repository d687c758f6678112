from django.apps import AppConfig


class LlmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.llm"
    label = "llm"
    verbose_name = "LLM summary rewrite"
