"""The message templates (jinja2). HTML is autoescaped; the plain text is not."""

from __future__ import annotations

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

TEXT = """\
{{ headline }}

{{ summary }}

Brand:     {{ brand }}
Rule:      {{ rule }} ({{ rule_type }})
Severity:  {{ severity }}
Started:   {{ started_at }}
{% if late %}
Late:      sent {{ late }} after it fired at {{ at }} (the mentions' own time): {{ late_why }}
{% endif %}
{% if resolved %}
Resolved:  {{ at }} (after {{ lasted }})
{% endif %}
{% if figures %}

Figures:
{% for name, value in figures %}
  {{ name }}: {{ value }}
{% endfor %}
{% endif %}
{% if samples %}

Sample mentions:
{% for s in samples %}
  - {{ s.title }} ({{ s.source }}, {{ s.sentiment }})
{% if s.url %}
    {{ s.url }}
{% endif %}
{% endfor %}
{% endif %}
{% if search_url %}

Search: {{ search_url }}
{% endif %}

Fingerprint {{ fingerprint }}
"""

HTML = """\
<!doctype html>
<html><body style="font-family: sans-serif">
<h2 style="color: {{ colour }}">{{ headline }}</h2>
<p>{{ summary }}</p>
<table cellpadding="4">
<tr><th align="left">Brand</th><td>{{ brand }}</td></tr>
<tr><th align="left">Rule</th><td>{{ rule }} ({{ rule_type }})</td></tr>
<tr><th align="left">Severity</th><td>{{ severity }}</td></tr>
<tr><th align="left">Started</th><td>{{ started_at }}</td></tr>
{% if late %}
<tr><th align="left">Late</th><td>sent {{ late }} after it fired at {{ at }} (the mentions' own
time): {{ late_why }}</td></tr>
{% endif %}
{% if resolved %}
<tr><th align="left">Resolved</th><td>{{ at }} (after {{ lasted }})</td></tr>
{% endif %}
{% for name, value in figures %}
<tr><th align="left">{{ name }}</th><td>{{ value }}</td></tr>
{% endfor %}
</table>
{% if samples %}
<h3>Sample mentions</h3>
<ul>
{% for s in samples %}
<li>{% if s.url %}<a href="{{ s.url }}">{{ s.title }}</a>{% else %}{{ s.title }}{% endif %}
 <small>({{ s.source }}, {{ s.sentiment }})</small></li>
{% endfor %}
</ul>
{% endif %}
{% if search_url %}
<p><a href="{{ search_url }}">Open the mentions in search</a></p>
{% endif %}
<p style="color: #888"><small>Fingerprint {{ fingerprint }}</small></p>
</body></html>
"""

ENV = Environment(
    loader=DictLoader({"message.txt": TEXT, "message.html": HTML}),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
