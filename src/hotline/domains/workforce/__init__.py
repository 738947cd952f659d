"""Workforce management: forecasting-to-staffing maths (Erlang B / C / A) (R-C7)."""
