"""The staff roles exist as Django groups on every installation.

Views check roles by group name (`User.has_role`); admins give people roles
by adding them to these groups. Permissions for Django admin are attached to
the admin group only: other roles work in the staff pages, not in admin.
"""

from django.db import migrations

ROLES = ["coordinator", "manager", "clinician", "front_desk", "admin"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    # Reversing leaves the groups: they may hold people by then.
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
