"""Pinned versions written into the generated requirements files (a known-good, tested set)."""

FLASK = "flask==3.1.3"
PYDANTIC = "pydantic==2.14.4"
BOTO3 = "boto3==1.44.8"
GUNICORN = "gunicorn==27.0.1"
PYTEST = "pytest==9.2.0"
MOTO = "moto[dynamodb]==5.2.5"
RUFF = "ruff==0.17.6"

API_REQUIREMENTS = (FLASK, PYDANTIC, BOTO3, GUNICORN)
API_DEV_REQUIREMENTS = (PYTEST, MOTO, RUFF)
MODEL_REQUIREMENTS = (PYDANTIC,)
MODEL_DEV_REQUIREMENTS = (PYTEST,)

# A full-stack project also runs as an AWS Lambda function behind an API Gateway HTTP API, through apig-wsgi.
# Its code package vendors these (and what they depend on); the Lambda runtime provides boto3.
APIG_WSGI = "apig-wsgi==2.20.0"
LAMBDA_REQUIREMENTS = (FLASK, PYDANTIC, APIG_WSGI)
